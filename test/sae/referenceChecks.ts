/**
 * Test helpers shared by the architecture-vs-PyTorch tests (saelens6, topkSparseStep,
 * jumpreluGated): the reference trainer config as a TrainerConfig, the gradients of an
 * architecture's training loss, and their comparison with the reference's.
 */
import type { ExecutionContext } from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import type { Architecture, TrainingStepInput } from '../../src/sae/architectures/Architecture.js';
import type { SaeConfig } from '../../src/sae/SaeConfig.js';
import { DEFAULT_TRAINER_CONFIG, type TrainerConfig } from '../../src/train/TrainerConfig.js';
import { compare } from './fixtures.js';

/**
 * The SAELens 6 reference's snake_case trainer settings (saelens6_train.json) → a TrainerConfig.
 * Unlike fixtures.ts's trainerCfgFrom (v1.5 runs) it reads only the fields that file writes.
 */
export function saelens6TrainerCfg(tc: any): TrainerConfig {
  return {
    ...DEFAULT_TRAINER_CONFIG,
    lr: tc.lr, lrSchedulerName: tc.lr_scheduler_name, lrWarmUpSteps: tc.lr_warm_up_steps, lrDecaySteps: tc.lr_decay_steps,
    adamBeta1: tc.adam_beta1, adamBeta2: tc.adam_beta2, trainBatchSize: tc.train_batch_size,
    totalTrainingSteps: tc.total_training_steps, featureSamplingWindow: tc.feature_sampling_window,
    deadFeatureWindow: tc.dead_feature_window,
  };
}

/**
 * d loss / d param for each of `names` at `p`, the training forward built by `input` from the
 * parameters being differentiated. Kept statistics (`stats`) are disposed.
 */
export function lossGrads(
  arch: Architecture, cfg: SaeConfig, p: Readonly<Record<string, tf.Tensor>>, names: readonly string[],
  input: (ps: Record<string, tf.Tensor>) => TrainingStepInput,
): Float32Array[] {
  return tf.tidy(() => {
    const g = tf.grads((...ts: tf.Tensor[]) => {
      const q = Object.fromEntries(names.map((n, i) => [n, ts[i]!]));
      const r = arch.trainingForward(cfg, q, input(q));
      tf.dispose(Object.values(r.stats ?? {}));
      return r.loss;
    });
    return g(names.map((n) => p[n]!)).map((gi) => gi.dataSync() as Float32Array);
  });
}

/** Asserts each gradient equals the reference's (`want[name]`) to rtol/atol 1e-5. */
export function assertGrads(t: ExecutionContext, names: readonly string[], got: readonly Float32Array[], want: Record<string, number[]>): void {
  names.forEach((n, i) => {
    const r = compare(got[i]!, want[n]!, 1e-5, 1e-5);
    t.true(r.ok, `grad ${n}: ${r.nBad} off (worst ${r.worst.toExponential(2)}), e.g. ${JSON.stringify(r.bad)}`);
  });
}
