/**
 * What the trainer needs beyond the SAE itself, camelCase. Mapped from SAELens's
 * snake_case runner fields by src/config/.
 */
export type LrSchedulerName = 'constant' | 'cosineannealing' | 'cosineannealingwarmrestarts';
export type FinetuningMethod = 'scale' | 'decoder' | 'unrotated_decoder';

export interface TrainerConfig {
  readonly lr: number;
  readonly lrSchedulerName: LrSchedulerName;
  readonly lrWarmUpSteps: number;
  /** null means lr / 10, as SAELens. */
  readonly lrEnd: number | null;
  readonly lrDecaySteps: number;
  readonly nRestartCycles: number;
  readonly adamBeta1: number;
  readonly adamBeta2: number;
  readonly l1Coefficient: number;
  readonly l1WarmUpSteps: number;
  readonly trainBatchSize: number;
  /** Total steps = training_tokens / train_batch_size (the LR schedule's horizon). */
  readonly totalTrainingSteps: number;
  readonly featureSamplingWindow: number;
  readonly deadFeatureWindow: number;
  readonly deadFeatureThreshold: number;
  readonly useGhostGrads: boolean;
  readonly finetuningMethod: FinetuningMethod | null;
  /** Fine-tuning steps after training = finetuning_tokens / train_batch_size. */
  readonly finetuningSteps: number;
  /** SAELens `training_tokens` / `finetuning_tokens` (the step counts above derive from them). */
  readonly trainingTokens?: number;
  readonly finetuningTokens?: number;
  /** SAELens `wandb_log_frequency`: log every this many steps. */
  readonly wandbLogFrequency?: number;
  /** SAELens `eval_every_n_wandb_logs`: run evals every this many logs. */
  readonly evalEveryNWandbLogs?: number;
  /** SAELens `n_checkpoints`: checkpoints spread evenly over training. */
  readonly nCheckpoints?: number;
}

export const DEFAULT_TRAINER_CONFIG: TrainerConfig = {
  lr: 3e-4,
  lrSchedulerName: 'constant',
  lrWarmUpSteps: 500,
  lrEnd: null,
  lrDecaySteps: 0,
  nRestartCycles: 1,
  adamBeta1: 0,
  adamBeta2: 0.999,
  l1Coefficient: 1e-3,
  l1WarmUpSteps: 0,
  trainBatchSize: 4096,
  totalTrainingSteps: Math.floor(2_000_000 / 4096),
  featureSamplingWindow: 2000,
  deadFeatureWindow: 1000,
  deadFeatureThreshold: 1e-8,
  useGhostGrads: false,
  finetuningMethod: null,
  finetuningSteps: 0,
};
