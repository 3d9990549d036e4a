import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../../src/sae/SaeConfig.js';
import { DEFAULT_TRAINER_CONFIG, type TrainerConfig } from '../../src/train/TrainerConfig.js';
import type { TrainSaeSpec } from '../../src/operators/trainSae.js';

export function spec(over: { sae?: Partial<SaeConfig>; trainer?: Partial<TrainerConfig>; id?: string } = {}): TrainSaeSpec {
  return {
    sae: { ...DEFAULT_SAE_CONFIG, dIn: 4, dSae: 8, bDecInitMethod: 'mean', hookPoint: 'hook_hidden', ...over.sae },
    trainer: { ...DEFAULT_TRAINER_CONFIG, trainBatchSize: 32, totalTrainingSteps: 12, lrWarmUpSteps: 0, lr: 1e-2, ...over.trainer },
    ...(over.id ? { id: over.id } : {}),
  };
}
