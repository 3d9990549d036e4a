/**
 * A transcoder learns a sparse map x → y and recovers it: x and y are built from the same sparse
 * codes (10 true features, each active with probability 0.15, c = 3·u) through two different
 * random dictionaries D (16 wide) and E (12 wide), plus offsets and noise (SyntheticPairs, the
 * data of scripts/reference/transcoder_reference.py). Trained on (x, y), the transcoder's decoder
 * rows must find every output direction E_k (cosine ≥ 0.9) and its output explain the target.
 * (Not the skip variants: here y is an affine function of x, since D has full row rank, so their
 * W_skip alone can fit it: measured, skip_transcoder explains 0.998 of y's variance with decoder
 * rows at cosine ≤ 0.83 to E.)
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG } from '../../src/sae/SaeConfig.js';
import { SaeTrainer, type StepMetrics } from '../../src/train/SaeTrainer.js';
import { DEFAULT_TRAINER_CONFIG } from '../../src/train/TrainerConfig.js';
import { SyntheticPairs } from '../train/syntheticData.js';
import { withDefaults } from './archFields.js';

test.before(async () => {
  await setupTf();
});

const D_IN = 16;
const D_OUT = 12;
const N_TRUE = 10;

/** Per true feature, the largest cosine between E_k and a decoder row. */
function maxCosines(E: number[][], wDec: Float32Array, dSae: number): number[] {
  return E.map((e) => {
    const ne = Math.hypot(...e);
    let best = -1;
    for (let i = 0; i < dSae; i++) {
      let dot = 0;
      let nw = 0;
      for (let j = 0; j < D_OUT; j++) {
        dot += e[j]! * wDec[i * D_OUT + j]!;
        nw += wDec[i * D_OUT + j]! ** 2;
      }
      best = Math.max(best, dot / (ne * Math.sqrt(nw) + 1e-12));
    }
    return best;
  });
}

for (const [architecture, fields] of [
  ['transcoder', { l1_coefficient: 0.2, l1_warm_up_steps: 50 }],
  ['topk_transcoder', { k: 3 }],
] as const) {
  test(`${architecture} recovers the output dictionary of a sparse x → y map`, (t) => {
    const before = tf.memory().numTensors;
    const dSae = 20;
    const steps = 600;
    const batch = 512;
    const sae = Sae.create(
      {
        ...DEFAULT_SAE_CONFIG, architecture, archFields: withDefaults(architecture, fields), dIn: D_IN, dOut: D_OUT, dSae,
        applyBDecToInput: false, normalizeSaeDecoder: false, bDecInitMethod: 'mean',
      },
      { seed: 3 },
    );
    const tr = new SaeTrainer(sae, {
      ...DEFAULT_TRAINER_CONFIG,
      lr: 3e-3, lrWarmUpSteps: 0, adamBeta1: 0.9, adamBeta2: 0.999, trainBatchSize: batch, totalTrainingSteps: steps, deadFeatureWindow: 100,
    });
    const data = new SyntheticPairs(5, D_IN, D_OUT, N_TRUE);
    let last: StepMetrics | undefined;
    for (let k = 0; k < steps; k++) {
      const b = data.batch(batch);
      const x = tf.tensor2d(b.x, [batch, D_IN]);
      const y = tf.tensor2d(b.y, [batch, D_OUT]);
      if (k === 0) sae.initBDec(y);
      last = tr.step(x, y);
      tf.dispose([x, y]);
    }
    const cos = maxCosines(data.E, sae.snapshot().W_dec, dSae);
    const recovered = cos.filter((c) => c >= 0.9).length;
    t.log(`${architecture}: recovered ${recovered}/${N_TRUE}, cosines ${cos.map((c) => c.toFixed(3)).join(' ')}; l0 ${last!.l0.toFixed(2)}, explained variance of y ${last!.explainedVarianceMean.toFixed(3)}`);
    t.is(recovered, N_TRUE);
    t.true(last!.explainedVarianceMean > 0.9, `explained variance ${last!.explainedVarianceMean}`);
    tr.dispose();
    sae.dispose();
    t.is(tf.memory().numTensors, before);
  });
}
