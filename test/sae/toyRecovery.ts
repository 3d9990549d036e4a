/**
 * Test helper: trains an SAE of a given architecture on Anthropic's toy model of superposition
 * (10 features in 5 dims, probability 0.05; toy model 1500 steps at lr 1e-2, the example's quick
 * setting) with the settings the toy-recovery tests share (d_sae 20, no decoder renorm, b_dec
 * zeros, Adam lr 3e-3 β 0.9/0.999, batch 1024, 600 steps, dead window 100, seeds 42/1/7), and
 * reports how many true features its decoder rows recover (cosine ≥ 0.9).
 */
import * as tf from '@tensorflow/tfjs-core';
import { toyFeatureRecovery, toyFeatures, toyHidden, toyModel, trainToyModel } from '../../src/sources/toyModel.js';
import { Rng } from '../../src/stream/rng.js';
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG } from '../../src/sae/SaeConfig.js';
import { SaeTrainer, type StepMetrics } from '../../src/train/SaeTrainer.js';
import { DEFAULT_TRAINER_CONFIG } from '../../src/train/TrainerConfig.js';
import { withDefaults } from './archFields.js';

export interface ToyRecoveryResult {
  readonly recovered: number;
  readonly maxCosine: readonly number[];
  /** The last step's metrics. */
  readonly last: StepMetrics;
  /** The trained SAE's float64 state (BatchTopK's topk_threshold). */
  readonly state: Readonly<Record<string, number>>;
  /** One line for t.log. */
  readonly summary: string;
}

/** Trains and disposes everything it made (the caller checks tf.memory() around it). */
export function toyRecovery(architecture: string, archFields: Record<string, unknown>): ToyRecoveryResult {
  const model = trainToyModel(toyModel({ nFeatures: 10, nHidden: 5, featureProbability: 0.05, seed: 42 }), { steps: 1500, batchSize: 1024, lr: 1e-2 });
  const steps = 600;
  const sae = Sae.create(
    { ...DEFAULT_SAE_CONFIG, architecture, archFields: withDefaults(architecture, archFields), dIn: 5, dSae: 20, normalizeSaeDecoder: false, bDecInitMethod: 'zeros' },
    { seed: 1 },
  );
  const tr = new SaeTrainer(sae, {
    ...DEFAULT_TRAINER_CONFIG,
    lr: 3e-3, lrWarmUpSteps: 0, adamBeta1: 0.9, adamBeta2: 0.999, trainBatchSize: 1024, totalTrainingSteps: steps, deadFeatureWindow: 100,
  });
  try {
    const rng = new Rng(7);
    let last: StepMetrics | undefined;
    for (let k = 0; k < steps; k++) {
      const x = tf.tensor2d(toyHidden(model, toyFeatures(model.cfg, 1024, rng)), [1024, 5]);
      last = tr.step(x);
      x.dispose();
    }
    const rec = toyFeatureRecovery(model, sae.snapshot().W_dec, 0.9);
    const state = { ...sae.state };
    const summary = `recovered ${rec.recovered}/10, cosines ${rec.maxCosine.map((c) => c.toFixed(3)).join(' ')}; l0 ${last!.l0.toFixed(3)}, explained variance ${last!.explainedVarianceMean.toFixed(3)}`;
    return { recovered: rec.recovered, maxCosine: rec.maxCosine, last: last!, state, summary };
  } finally {
    tr.dispose();
    sae.dispose();
  }
}
