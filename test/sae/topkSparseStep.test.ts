/**
 * The TopK family's sparse training step (src/sae/architectures/topkSparseStep.ts over
 * src/sae/topkSparse.ts) driven through the architectures and SaeTrainer with sparseStep
 * 'always', against the plain-PyTorch SAELens 6 reference fixtures the dense path is tested on
 * (test/sae/saelens6.test.ts): every loss term, x̂, fired counts, BatchTopK's smallest
 * activation, every gradient, and the 150-step trainer trajectories (Adam, dead latents and
 * AuxK, threshold EMA). Skipped (with the reason) when the native kernels are not built.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { blasStatus, topkKernelsAvailable } from '../../src/backend/index.js';
import { architectureOf } from '../../src/sae/architectures/registry.js';
import { topkSparseStepApplies } from '../../src/sae/architectures/topkSparseStep.js';
import { Sae } from '../../src/sae/Sae.js';
import { SaeTrainer } from '../../src/train/SaeTrainer.js';
import { DEFAULT_TRAINER_CONFIG } from '../../src/train/TrainerConfig.js';
import { compare, readFixture } from './fixtures.js';
import { saelens6Cfg } from './saelens6Fixtures.js';
import { assertGrads, lossGrads, saelens6TrainerCfg } from './referenceChecks.js';
import { SyntheticActs } from '../train/syntheticData.js';

const HAVE = blasStatus().loaded;
const nativeTest = HAVE ? test : test.skip;
if (!HAVE) console.log(`sparse TopK-family step tests skipped: ${blasStatus().reason}`);

test.before(async () => {
  await setupTf();
});

const fx = readFixture('saelens6_forward.json');
const { d_in: dIn, d_sae: dSae, batch } = fx;
const PARAMS = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;
const FAMILY = new Set(['topk', 'batchtopk', 'matryoshka_batchtopk']);
const close = (a: number, b: number, rtol: number, atol = 1e-7) => Math.abs(a - b) <= rtol * Math.abs(b) + atol;

for (const c of fx.cases.filter((k: any) => FAMILY.has(k.arch))) {
  nativeTest(`${c.name}: the sparse step's losses, fired counts and gradients match PyTorch`, (t) => {
    t.true(topkKernelsAvailable());
    const arch = architectureOf(c.arch);
    const cfg = saelens6Cfg(c.arch, c.cfg, dIn, dSae);
    arch.validate(cfg);
    if (c.cfg.use_matryoshka_aux_loss) {
      // Per-level AuxK is not in the sparse step: the dense forward runs (and is what saelens6.test.ts checks).
      t.false(topkSparseStepApplies(cfg, 'always'));
      return;
    }
    t.true(topkSparseStepApplies(cfg, 'always'));
    t.false(topkSparseStepApplies(cfg, 'never'));
    const x = tf.tensor2d(fx.x, [batch, dIn]);
    const p: Record<string, tf.Tensor> = {};
    for (const s of arch.params(cfg)) p[s.name] = tf.tensor(c.params[s.name], [...s.shape]);
    const e = c.expected;
    const before = tf.memory().numTensors;
    const input = (ps: Record<string, tf.Tensor>) => ({
      x, deadIdx: Int32Array.from(c.dead as number[]), coefficients: c.coefficients, step: 0,
      trainer: DEFAULT_TRAINER_CONFIG, onesParams: new Set<string>(), noiseSeed: 0, sparseStep: 'always' as const, params: ps,
    });
    const got = tf.tidy(() => {
      const r = arch.trainingForward(cfg, p, input(p));
      t.is(r.featureActs, undefined, 'no dense [batch, d_sae] activations');
      return {
        losses: Object.fromEntries(Object.entries(r.losses).map(([k, v]) => [k, v.dataSync()[0]!])),
        loss: r.loss.dataSync()[0]!,
        fired: Array.from(r.firedCounts!.dataSync()),
        saeOut: r.saeOut.dataSync(),
        stats: Object.fromEntries(Object.entries(r.stats ?? {}).map(([k, v]) => [k, v.dataSync()[0]!])),
      };
    });
    t.deepEqual(Object.keys(got.losses).sort(), Object.keys(e.losses).sort(), 'the same loss terms, by SAELens 6 name');
    for (const [k, want] of Object.entries<number>(e.losses)) t.true(close(got.losses[k]!, want, 1e-5, 1e-8), `${k}: ${got.losses[k]} vs ${want}`);
    t.true(close(got.loss, e.loss, 1e-5), `loss ${got.loss} vs ${e.loss}`);
    const r = compare(got.saeOut, e.sae_out, 1e-5);
    t.true(r.ok, `sae_out: ${r.nBad} off, e.g. ${JSON.stringify(r.bad)}`);
    const wantFired = new Array<number>(dSae).fill(0);
    (e.feature_acts as number[]).forEach((v, i) => { if (v > 0) wantFired[i % dSae]! += 1; });
    t.deepEqual(got.fired, wantFired, 'fired counts per latent');
    if (e.stats.min_positive_act !== undefined) t.true(close(got.stats['min_positive_act']!, e.stats.min_positive_act, 1e-6), 'smallest positive activation');
    assertGrads(t, PARAMS, lossGrads(arch, cfg, p, PARAMS, input), e.grads);
    t.is(tf.memory().numTensors - before, 0, 'no tensors leaked');
    tf.dispose([x, ...Object.values(p)]);
  });
}

const tfx = readFixture('saelens6_train.json');


for (const run of tfx.runs.filter((r: any) => FAMILY.has(r.arch))) {
  nativeTest(`${run.name}: 150-step trajectory on the sparse step matches PyTorch`, (t) => {
    const cfg = saelens6Cfg(run.arch, run.cfg, tfx.d_in, tfx.d_sae);
    const sae = Sae.fromWeights(cfg, { params: Object.fromEntries(PARAMS.map((n) => [n, Float32Array.from(run.initial[n])])) });
    const tr = new SaeTrainer(sae, saelens6TrainerCfg(run.trainer), { sparseStep: 'always' });
    const data = new SyntheticActs(run.data_seed);
    const snaps = new Map<number, any>(run.snapshots.map((s: any) => [s.after_step, s.params]));
    let before = 0; // after step 0, once Adam holds its moments
    let deadSeen = 0;
    for (let k = 0; k < run.metrics.length; k++) {
      const bs = run.trainer.train_batch_size;
      const x = tf.tensor2d(data.batch(bs), [bs, tfx.d_in]);
      const m = tr.step(x);
      x.dispose();
      if (k === 0) before = tf.memory().numTensors;
      const w = run.metrics[k];
      deadSeen = Math.max(deadSeen, m.deadFeatures);
      t.is(m.deadFeatures, w.dead, `step ${k} dead latents`);
      for (const [n, v] of Object.entries<number>(w.losses)) t.true(close(m.terms[n]!, v, 1e-4, 1e-7), `step ${k} ${n}: ${m.terms[n]} vs ${v}`);
      t.true(close(m.l0, w.l0, 0, 1e-9), `step ${k} l0 ${m.l0} vs ${w.l0}`);
      if (run.arch !== 'topk') t.true(close(sae.state['topk_threshold']!, w.topk_threshold, 1e-5), `step ${k} threshold`);
      const want = snaps.get(k);
      if (want) {
        const snap = sae.snapshot();
        for (const n of PARAMS) {
          const r = compare(snap.params[n]!, want[n], 1e-4, 1e-5);
          t.true(r.ok, `after step ${k} ${n}: ${r.nBad} off (worst ${r.worst.toExponential(2)})`);
        }
      }
    }
    t.true(deadSeen > 0, 'dead latents (AuxK) were in play');
    t.deepEqual(Array.from(tr.state().stepsSinceFired), run.steps_since_fired);
    t.is(tf.memory().numTensors, before, 'no tensors leaked over the run');
    tr.dispose();
    sae.dispose();
  });
}

nativeTest("SaeTrainer under 'auto' takes the sparse step at k/d_sae ≤ 5 % without row chunks, and agrees with the chunked dense step", (t) => {
  const base = { apply_b_dec_to_input: true, decoder_init_norm: 0.1, aux_loss_coefficient: 1, rescale_acts_by_decoder_norm: true, use_sparse_activations: false, k: 4 };
  const cfg = saelens6Cfg('topk', base, 16, 256);
  t.true(topkSparseStepApplies(cfg, 'auto'), 'k/d_sae = 1/64: sparse under auto');
  t.false(topkSparseStepApplies(saelens6Cfg('topk', { ...base, k: 32 }, 16, 256), 'auto'), 'k/d_sae = 1/8: dense under auto');
  const arch = architectureOf('topk');
  t.false(arch.materializesActivations!(cfg, 'auto'));
  t.true(arch.materializesActivations!(cfg, 'never'));
  const run = (mode: 'auto' | 'never') => {
    const sae = Sae.create(cfg, { seed: 5 });
    // maxChunkElements 4096: the dense step runs 16-row chunks of the 64-row batch; the sparse one does not chunk.
    const tr = new SaeTrainer(sae, { ...DEFAULT_TRAINER_CONFIG, lr: 1e-3, adamBeta1: 0.9, trainBatchSize: 64, totalTrainingSteps: 10, deadFeatureWindow: 2 }, { sparseStep: mode, maxChunkElements: 4096 });
    const data = new SyntheticActs(9);
    const metrics = [];
    for (let k = 0; k < 5; k++) {
      const x = tf.tensor2d(data.batch(64), [64, 16]);
      metrics.push(tr.step(x));
      x.dispose();
    }
    const snap = sae.snapshot();
    tr.dispose();
    sae.dispose();
    return { metrics, snap };
  };
  const before = tf.memory().numTensors;
  const s = run('auto'), d = run('never');
  t.is(tf.memory().numTensors, before, 'no tensors leaked');
  t.true(s.metrics.some((m) => m.deadFeatures > 0), 'dead latents (AuxK) in play');
  s.metrics.forEach((m, k) => {
    t.is(m.l0, d.metrics[k]!.l0, `step ${k} l0`);
    t.is(m.deadFeatures, d.metrics[k]!.deadFeatures, `step ${k} dead`);
    for (const [n, v] of Object.entries(d.metrics[k]!.terms)) t.true(close(m.terms[n]!, v, 1e-4, 1e-7), `step ${k} ${n}: ${m.terms[n]} vs ${v}`);
  });
  for (const n of PARAMS) {
    const r = compare(s.snap.params[n]!, Array.from(d.snap.params[n]!), 1e-4, 1e-6);
    t.true(r.ok, `${n} after 5 steps: ${r.nBad} off (worst ${r.worst.toExponential(2)})`);
  }
});

test("a dense step that cannot run in row chunks (matryoshka_batchtopk under 'never') past maxChunkElements is a ConfigError before allocation", (t) => {
  t.is(tf.getBackend(), 'wasm', 'the limit guards the wasm heap');
  const base = { apply_b_dec_to_input: true, decoder_init_norm: 0.1, aux_loss_coefficient: 1, rescale_acts_by_decoder_norm: true, use_sparse_activations: false, k: 4, matryoshka_widths: [64, 256], use_matryoshka_aux_loss: false, topk_threshold_lr: 0.01 };
  const cfg = saelens6Cfg('matryoshka_batchtopk', base, 16, 256);
  const sae = Sae.create(cfg, { seed: 5 });
  const tcfg = { ...DEFAULT_TRAINER_CONFIG, trainBatchSize: 64, totalTrainingSteps: 10 };
  const x = tf.tensor2d(new SyntheticActs(9).batch(64), [64, 16]);
  const before = tf.memory().numTensors;
  const dense = new SaeTrainer(sae, tcfg, { sparseStep: 'never', maxChunkElements: 4096 });
  const e = t.throws(() => dense.step(x));
  t.is(e?.name, 'ConfigError');
  t.regex(e!.message, /matryoshka_batchtopk's dense step at batch 64 × d_sae 256 = 16384 elements .* exceeds the limit 4096 \(maxChunkElements/);
  t.is(tf.memory().numTensors, before, 'nothing allocated by the refused step');
  dense.dispose();
  // within the limit the same dense step runs
  const fits = new SaeTrainer(sae, tcfg, { sparseStep: 'never', maxChunkElements: 64 * 256 });
  t.is(fits.step(x).l0, 4);
  fits.dispose();
  // the sparse step holds no [batch, d_sae] tensor: not refused
  if (topkSparseStepApplies(cfg, 'auto')) {
    const sparse = new SaeTrainer(sae, tcfg, { sparseStep: 'auto', maxChunkElements: 4096 });
    t.is(sparse.step(x).l0, 4);
    sparse.dispose();
  }
  x.dispose();
  sae.dispose();
});
