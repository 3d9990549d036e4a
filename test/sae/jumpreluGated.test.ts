/**
 * The `jumprelu` and `gated` architectures against the plain-PyTorch reference
 * (scripts/reference/jumprelu_gated_reference.py → test/fixtures/sae/jumprelu_gated.json):
 * forward, every loss term and every parameter gradient (straight-through estimators included)
 * to 1e-5; SAELens's decoder-norm folds keep the reconstruction; inference through `Sae`.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { architectureOf } from '../../src/sae/architectures/registry.js';
import { foldJumpReluDecoderNorm } from '../../src/sae/architectures/jumprelu.js';
import { foldGatedDecoderNorm } from '../../src/sae/architectures/gated.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../../src/sae/SaeConfig.js';
import { Sae } from '../../src/sae/Sae.js';
import { withDefaults } from './archFields.js';
import { compare, readFixture } from './fixtures.js';
import { assertGrads, lossGrads } from './referenceChecks.js';
import { followTrajectory } from './trajectory.js';

test.before(async () => {
  await setupTf();
});

const fx = readFixture('jumprelu_gated.json');

/** The fixture's SAELens cfg → an SaeConfig of that architecture. */
function archCfg(arch: string, c: Record<string, unknown>, dIn: number, dSae: number, coefficient: number): SaeConfig {
  const { apply_b_dec_to_input, ...fields } = c;
  const coeffField = arch === 'gated' ? 'l1_coefficient' : 'l0_coefficient';
  return {
    ...DEFAULT_SAE_CONFIG,
    architecture: arch,
    archFields: withDefaults(arch, { ...fields, [coeffField]: coefficient }),
    dIn,
    dSae,
    applyBDecToInput: apply_b_dec_to_input === undefined ? true : Boolean(apply_b_dec_to_input),
    normalizeSaeDecoder: false,
    bDecInitMethod: 'zeros',
  };
}

const TRAINER = { l1Coefficient: 0, l1WarmUpSteps: 0, useGhostGrads: false, finetuningMethod: null } as const;

for (const c of fx.cases) {
  test(`${c.name}: forward, loss terms and gradients match PyTorch to 1e-5`, (t) => {
    const arch = architectureOf(c.architecture);
    const cfg = archCfg(c.architecture, c.cfg, c.d_in, c.d_sae, c.coefficient);
    const names = arch.params(cfg).map((s) => s.name);
    const shapes = Object.fromEntries(arch.params(cfg).map((s) => [s.name, [...s.shape]]));
    const before = tf.memory().numTensors;
    const p = Object.fromEntries(names.map((n) => [n, tf.tensor(c.params[n], shapes[n])]));
    const x = tf.tensor2d(c.x, [c.n, c.d_in]);
    const coefficients = arch.coefficients(cfg, TRAINER);
    const coeffName = Object.keys(coefficients)[0]!;
    t.is(coefficients[coeffName]!.value, c.coefficient);
    const input = {
      x,
      deadIdx: Int32Array.from(c.dead_idx as number[]),
      coefficients: { [coeffName]: c.coefficient },
      step: 0,
      trainer: TRAINER,
      onesParams: new Set<string>(),
      noiseSeed: 0,
    };
    const got = tf.tidy(() => {
      const r = arch.trainingForward(cfg, p, input);
      return {
        losses: Object.fromEntries(Object.entries(r.losses).map(([k, v]) => [k, v.dataSync()[0]!])),
        loss: r.loss.dataSync()[0]!,
        featureActs: r.featureActs!.dataSync(),
        saeOut: r.saeOut.dataSync(),
      };
    });
    t.deepEqual(Object.keys(got.losses).sort(), Object.keys(c.losses).sort());
    for (const [k, want] of Object.entries(c.losses as Record<string, number>)) {
      t.true(Math.abs(got.losses[k]! - want) <= 1e-5 * Math.abs(want) + 1e-7, `${k}: got ${got.losses[k]}, want ${want}`);
    }
    t.true(Math.abs(got.loss - c.loss) <= 1e-5 * Math.abs(c.loss), `loss ${got.loss} vs ${c.loss}`);
    for (const [k, g, w] of [['feature_acts', got.featureActs, c.feature_acts], ['sae_out', got.saeOut, c.sae_out]] as const) {
      const r = compare(g, w, 1e-5);
      t.true(r.ok, `${k}: ${JSON.stringify(r.bad)}`);
    }
    assertGrads(t, names, lossGrads(arch, cfg, p, names, () => input), c.grads);
    // the inference forward gives the same feature acts and output
    const sae = Sae.fromWeights(cfg, { params: Object.fromEntries(names.map((n) => [n, Float32Array.from(c.params[n])])) });
    const inf = sae.forward(x);
    t.true(compare(inf.featureActs.dataSync(), c.feature_acts, 1e-5).ok);
    t.true(compare(inf.out.dataSync(), c.sae_out, 1e-5).ok);
    tf.dispose([...Object.values(inf), x, ...Object.values(p)]);
    sae.dispose();
    t.is(tf.memory().numTensors - before, 0, 'no tensors leaked');
  });
}

test('the STE cases exercise the threshold gradient (some rows inside the bandwidth window, threshold grad non-zero)', (t) => {
  for (const c of fx.cases.filter((k: any) => k.architecture === 'jumprelu')) {
    t.true(c.in_window > 0, c.name);
    t.true((c.grads.threshold as number[]).some((v) => v !== 0), c.name);
  }
  // a negative threshold is relu'd: no gradient reaches it
  const neg = fx.cases.find((k: any) => k.name === 'jumprelu_negative_threshold');
  for (const i of [1, 5, 9]) t.is(neg.grads.threshold[i], 0);
});

for (const [name, fold] of [
  ['jumprelu', foldJumpReluDecoderNorm],
  ['gated', foldGatedDecoderNorm],
] as const) {
  test(`${name}: folding the decoder norms scales the acts by ‖W_dec,i‖ and keeps the reconstruction`, (t) => {
    const c = fx.cases.find((k: any) => k.architecture === name);
    const cfg = archCfg(name, c.cfg, c.d_in, c.d_sae, c.coefficient);
    const w = Object.fromEntries(Object.entries(c.params as Record<string, number[]>).map(([k, v]) => [k, Float32Array.from(v)]));
    const a = Sae.fromWeights(cfg, { params: w });
    const b = Sae.fromWeights(cfg, { params: fold(cfg, w) });
    const x = tf.tensor2d(c.x, [c.n, c.d_in]);
    const ra = a.forward(x);
    const rb = b.forward(x);
    const norms = tf.norm(a.param('W_dec'), 'euclidean', 1);
    const scaled = tf.mul(ra.featureActs, norms);
    t.true(compare(rb.featureActs.dataSync(), scaled.dataSync(), 1e-5).ok);
    t.true(compare(rb.out.dataSync(), ra.out.dataSync(), 1e-5).ok);
    const unit = tf.norm(b.param('W_dec'), 'euclidean', 1).dataSync();
    t.true(unit.every((v) => Math.abs(v - 1) < 1e-5));
    tf.dispose([x, norms, scaled, ...Object.values(ra), ...Object.values(rb)]);
    a.dispose();
    b.dispose();
  });
}

/**
 * 150 SaeTrainer steps (Adam β 0.9/0.999, clip 1.0, coefficient warm-up over 30 steps, latents
 * dead from the start, dead window 8) against the same run in float32 PyTorch, over the horizon
 * where float32 is reproducible (test/sae/trajectory.ts).
 */
for (const name of Object.keys(fx.trajectories)) {
  test(`${name}: a 150-step SaeTrainer trajectory follows PyTorch's over the horizon where float32 is reproducible`, async (t) => {
    const { SaeTrainer } = await import('../../src/train/SaeTrainer.js');
    const { DEFAULT_TRAINER_CONFIG } = await import('../../src/train/TrainerConfig.js');
    const { SyntheticActs } = await import('../train/syntheticData.js');
    const r = fx.trajectories[name];
    const cfg = archCfg(r.architecture, { ...r.cfg, [`${r.coefficient.name}_warm_up_steps`]: r.coefficient.warm_up_steps }, r.d_in, r.d_sae, r.coefficient.value);
    const sae = Sae.fromWeights(cfg, { params: Object.fromEntries(Object.entries(r.init as Record<string, number[]>).map(([k, v]) => [k, Float32Array.from(v)])) });
    const tr = new SaeTrainer(sae, {
      ...DEFAULT_TRAINER_CONFIG,
      lr: r.lr, lrWarmUpSteps: 0, adamBeta1: r.adam_beta1, adamBeta2: r.adam_beta2,
      trainBatchSize: r.batch, totalTrainingSteps: r.steps, deadFeatureWindow: r.dead_feature_window, featureSamplingWindow: 10_000,
    });
    t.teardown(() => (tr.dispose(), sae.dispose()));
    const data = new SyntheticActs(r.data_seed, r.d_in);
    followTrajectory(t, r, sae, () => {
      const x = tf.tensor2d(data.batch(r.batch), [r.batch, r.d_in]);
      const m = tr.step(x);
      x.dispose();
      return m;
    });
  });
}
