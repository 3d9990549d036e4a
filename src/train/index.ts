export * from './TrainerConfig.js';
export * from './Adam.js';
export * from './schedules.js';
export * from './SaeTrainer.js';
