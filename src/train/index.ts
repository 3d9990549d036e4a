export {
  type LrSchedulerName, type FinetuningMethod, type TrainerConfig, DEFAULT_TRAINER_CONFIG,
} from './TrainerConfig.js';
export { type AdamParamState, type AdamState, Adam } from './Adam.js';
export { l1CoefficientAt, coefficientAt, type LrScheduleParams, LrSchedule } from './schedules.js';
export {
  validateTrainerConfig, type StepMetrics, type TrainerState, type SaeTrainerOptions, SaeTrainer,
} from './SaeTrainer.js';
