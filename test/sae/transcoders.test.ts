/**
 * The transcoder architectures against the plain-PyTorch reference
 * (scripts/reference/transcoder_reference.py → test/fixtures/sae/transcoders.json): forward, every
 * loss term and every parameter gradient to 1e-5 (d_in 8 → d_out 6, dead latents for AuxK and the
 * pre-activation loss), the inference forward through `Sae`, and a 150-step SaeTrainer trajectory
 * per architecture on x → y data built from the same sparse codes.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { blasStatus } from '../../src/backend/index.js';
import { architectureOf } from '../../src/sae/architectures/registry.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../../src/sae/SaeConfig.js';
import { Sae } from '../../src/sae/Sae.js';
import { SaeTrainer } from '../../src/train/SaeTrainer.js';
import { DEFAULT_TRAINER_CONFIG } from '../../src/train/TrainerConfig.js';
import { SyntheticPairs } from '../train/syntheticData.js';
import { withDefaults } from './archFields.js';
import { compare, readFixture } from './fixtures.js';
import { assertGrads, lossGrads } from './referenceChecks.js';
import { followTrajectory } from './trajectory.js';

test.before(async () => {
  await setupTf();
});

const fx = readFixture('transcoders.json');

/** The fixture's cfg (snake_case fields) → a transcoder SaeConfig. */
function tcCfg(arch: string, c: Record<string, unknown>, dIn: number, dOut: number, dSae: number): SaeConfig {
  const fields = architectureOf(arch).fields;
  return {
    ...DEFAULT_SAE_CONFIG,
    architecture: arch,
    archFields: withDefaults(arch, Object.fromEntries(Object.entries(c).filter(([k]) => k in fields))),
    dIn,
    dOut,
    dSae,
    applyBDecToInput: false,
    normalizeSaeDecoder: false,
    bDecInitMethod: 'zeros',
    hookPoint: 'blocks.0.ln2.hook_normalized',
    hookPointOut: 'blocks.0.hook_mlp_out',
  };
}

const TRAINER = { l1Coefficient: 0, l1WarmUpSteps: 0, useGhostGrads: false, finetuningMethod: null } as const;
const params = (w: Record<string, number[]>) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Float32Array.from(v)]));

let worstCase = 0;
for (const c of fx.cases) {
  test.serial(`${c.name}: forward, loss terms and gradients match PyTorch to 1e-5`, (t) => {
    const arch = architectureOf(c.architecture);
    t.true(arch.transcoder);
    const cfg = tcCfg(c.architecture, c.cfg, c.d_in, c.d_out, c.d_sae);
    const specs = arch.params(cfg);
    const names = specs.map((s) => s.name);
    t.deepEqual(names.sort(), Object.keys(c.params).sort(), 'the parameters SAELens names');
    const shapes = Object.fromEntries(specs.map((s) => [s.name, [...s.shape]]));
    t.deepEqual(shapes['W_dec'], [c.d_sae, c.d_out]);
    t.deepEqual(shapes['b_dec'], [c.d_out]);
    if ('W_skip' in shapes) t.deepEqual(shapes['W_skip'], [c.d_out, c.d_in]);
    const before = tf.memory().numTensors;
    const p = Object.fromEntries(names.map((n) => [n, tf.tensor(c.params[n], shapes[n])]));
    const x = tf.tensor2d(c.x, [c.n, c.d_in]);
    const y = tf.tensor2d(c.y, [c.n, c.d_out]);
    const coefficients = arch.coefficients(cfg, TRAINER);
    const coeffName = Object.keys(coefficients)[0];
    const input = {
      x,
      target: y,
      deadIdx: Int32Array.from(c.dead_idx as number[]),
      coefficients: coeffName ? { [coeffName]: c.coefficient } : {},
      step: 0,
      trainer: TRAINER,
      onesParams: new Set<string>(),
      noiseSeed: 0,
      sparseStep: 'never' as const,
    };
    // the forward's stats are kept past any scope (the trainer reads and disposes them): so do we
    const stats: tf.Tensor[] = [];
    const got = tf.tidy(() => {
      const r = arch.trainingForward(cfg, p, input);
      stats.push(...Object.values(r.stats ?? {}));
      return {
        losses: Object.fromEntries(Object.entries(r.losses).map(([k, v]) => [k, v.dataSync()[0]!])),
        loss: r.loss.dataSync()[0]!,
        featureActs: r.featureActs!.dataSync(),
        saeOut: r.saeOut.dataSync(),
      };
    });
    t.deepEqual(Object.keys(got.losses).sort(), Object.keys(c.losses).sort());
    for (const [k, want] of Object.entries(c.losses as Record<string, number>)) {
      const err = Math.abs(got.losses[k]! - want) / Math.max(Math.abs(want), 1e-2);
      worstCase = Math.max(worstCase, err);
      t.true(err <= 1e-5, `${k}: got ${got.losses[k]}, want ${want}`);
    }
    t.true(Math.abs(got.loss - c.loss) <= 1e-5 * Math.abs(c.loss), `loss ${got.loss} vs ${c.loss}`);
    for (const [k, g, w] of [['feature_acts', got.featureActs, c.feature_acts], ['sae_out', got.saeOut, c.sae_out]] as const) {
      const r = compare(g, w, 1e-5);
      worstCase = Math.max(worstCase, r.worst);
      t.true(r.ok, `${k}: ${JSON.stringify(r.bad)}`);
    }
    const grads = lossGrads(arch, cfg, p, names, () => input);
    assertGrads(t, names, grads, c.grads);
    names.forEach((n, i) => {
      worstCase = Math.max(worstCase, compare(grads[i]!, c.grads[n], 1e-5).worst);
      t.true((c.grads[n] as number[]).some((v) => v !== 0), `the reference gradient of ${n} is exercised`);
    });
    // (BatchTopK in memory encodes as in training: the batch-wide top-k of the batch it is given)
    const sae = Sae.fromWeights(cfg, { params: params(c.params) });
    const inf = sae.forward(x);
    t.deepEqual(inf.out.shape, [c.n, c.d_out]);
    t.true(compare(inf.featureActs.dataSync(), c.feature_acts, 1e-5).ok, 'inference feature acts');
    t.true(compare(inf.out.dataSync(), c.sae_out, 1e-5).ok, 'inference output');
    tf.dispose(Object.values(inf));
    sae.dispose();
    tf.dispose([x, y, ...Object.values(p), ...stats]);
    t.is(tf.memory().numTensors - before, 0, 'no tensors leaked');
  });
}

test.serial('worst relative disagreement of the forward cases (for the note)', (t) => {
  t.log(`worst over terms, outputs and gradients: ${worstCase.toExponential(2)}`);
  t.true(worstCase <= 1e-5);
});

for (const name of Object.keys(fx.trajectories)) {
  test(`${name}: a 150-step SaeTrainer trajectory follows PyTorch's over the horizon where float32 is reproducible`, (t) => {
    const r = fx.trajectories[name];
    const warm = Object.fromEntries(Object.entries(r.cfg as Record<string, unknown>).filter(([k]) => k.endsWith('warm_up_steps')));
    const coeff = Object.fromEntries(Object.entries(r.cfg as Record<string, unknown>).filter(([k]) => /^l[01]_coefficient$/.test(k)));
    const cfg = tcCfg(r.architecture, { ...r.cfg, ...warm, ...coeff }, r.d_in, r.d_out, r.d_sae);
    const sae = Sae.fromWeights(cfg, { params: params(r.init) });
    const tr = new SaeTrainer(sae, {
      ...DEFAULT_TRAINER_CONFIG,
      lr: r.lr, lrWarmUpSteps: 0, adamBeta1: r.adam_beta1, adamBeta2: r.adam_beta2,
      trainBatchSize: r.batch, totalTrainingSteps: r.steps, deadFeatureWindow: r.dead_feature_window, featureSamplingWindow: 10_000,
    }, { sparseStep: 'never' });
    t.teardown(() => (tr.dispose(), sae.dispose()));
    const data = new SyntheticPairs(r.data_seed, r.d_in, r.d_out, r.n_true);
    followTrajectory(t, r, sae, (k) => {
      const b = data.batch(r.batch);
      const x = tf.tensor2d(b.x, [r.batch, r.d_in]);
      const y = tf.tensor2d(b.y, [r.batch, r.d_out]);
      const m = tr.step(x, y);
      tf.dispose([x, y]);
      if (name.startsWith('batchtopk')) {
        const want = r.topk_threshold[k] as number;
        t.true(Math.abs(sae.state['topk_threshold']! - want) <= 1e-4 * Math.abs(want) + 1e-9, `topk_threshold at step ${k}: ${sae.state['topk_threshold']} vs ${want}`);
      }
      return m;
    });
  });
}

/**
 * The sparse TopK step (src/sae/topkSparse.ts, native kernels) with a target d_out wide, and a
 * skip variant's target that carries W_skip's gradient: the same loss terms and gradients as the
 * PyTorch reference, like the dense path above.
 */
const NATIVE = blasStatus().loaded;
if (!NATIVE) console.log(`sparse TopK step transcoder tests skipped: ${blasStatus().reason}`);
for (const c of fx.cases.filter((k: any) => /^(topk|batchtopk)/.test(k.name))) {
  (NATIVE ? test.serial : test.serial.skip)(`${c.name}: the sparse TopK step gives the reference's loss terms and gradients (1e-5)`, (t) => {
    const arch = architectureOf(c.architecture);
    const cfg = tcCfg(c.architecture, c.cfg, c.d_in, c.d_out, c.d_sae);
    const specs = arch.params(cfg);
    const names = specs.map((s) => s.name);
    const p = Object.fromEntries(specs.map((s) => [s.name, tf.tensor(c.params[s.name], [...s.shape])]));
    const x = tf.tensor2d(c.x, [c.n, c.d_in]);
    const y = tf.tensor2d(c.y, [c.n, c.d_out]);
    const input = {
      x, target: y, deadIdx: Int32Array.from(c.dead_idx as number[]), coefficients: {}, step: 0, trainer: TRAINER,
      onesParams: new Set<string>(), noiseSeed: 0, sparseStep: 'always' as const,
    };
    const stats: tf.Tensor[] = [];
    const losses = tf.tidy(() => {
      const r = arch.trainingForward(cfg, p, input);
      t.is(r.featureActs, undefined, 'the sparse step ran (no dense feature acts)');
      stats.push(...Object.values(r.stats ?? {}));
      return Object.fromEntries(Object.entries(r.losses).map(([k, v]) => [k, v.dataSync()[0]!]));
    });
    for (const [k, want] of Object.entries(c.losses as Record<string, number>)) {
      t.true(Math.abs(losses[k]! - want) <= 1e-5 * Math.max(Math.abs(want), 1e-2), `${k}: ${losses[k]} vs ${want}`);
    }
    assertGrads(t, names, lossGrads(arch, cfg, p, names, () => input), c.grads);
    tf.dispose([x, y, ...Object.values(p), ...stats]);
  });
}
