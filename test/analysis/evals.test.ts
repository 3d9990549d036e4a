import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { HookedTransformer } from '../../src/model/HookedTransformer.js';
import { loadSae } from '../../src/sae/saeFolder.js';
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG } from '../../src/sae/SaeConfig.js';
import { histogram, isHeadHook, runEvals } from '../../src/analysis/evals.js';

const DIR = path.resolve('../shared/models/tiny-gpt2-sotu');
const HAVE = fs.existsSync(path.join(DIR, 'model.safetensors'));
const FIX = path.resolve('test/fixtures/evals');
const ref = JSON.parse(fs.readFileSync(path.join(FIX, 'evals_reference.json'), 'utf8')) as {
  hook_point: string;
  batches: number[][][];
  expected: Record<string, number>;
};

let model: HookedTransformer | undefined;
test.before(async () => {
  await setupTf();
  // raw HF weights: the reference runs the unprocessed model (the SAE sees uncentered resid)
  if (HAVE) model = await HookedTransformer.fromFolder(DIR, { processWeights: false });
});
test.after.always(() => model?.dispose());

const withModel = HAVE ? test.serial : test.skip;
if (!HAVE) console.log(`skipping eval tests on the tiny GPT-2: ${DIR} is absent`);

withModel('runEvals matches the PyTorch reference (CE clean/sae/zero, score, KL, SAE stats) within 1e-4', async (t) => {
  const sae = await loadSae(path.join(FIX, 'sae'));
  const before = tf.memory().numTensors;
  const r = runEvals(model!, sae, ref.batches, { hookPoint: ref.hook_point });
  t.is(tf.memory().numTensors, before, 'no tensors leaked');
  sae.dispose();
  t.is(r.batches, 2);
  t.is(r.tokens, 2 * 3 * 16);
  for (const [k, want] of Object.entries(ref.expected)) {
    const got = r.metrics[k];
    t.true(got !== undefined, `metric ${k} present`);
    const tol = k === 'l0' || k === 'l2_norm' || k === 'l2_norm_in' || k === 'kl_div_per_sequence' ? 1e-4 * Math.max(1, Math.abs(want)) : 1e-4;
    t.true(Math.abs(got! - want) <= tol, `${k}: got ${got}, want ${want} (diff ${Math.abs(got! - want)})`);
  }
  t.deepEqual(Object.keys(r.histograms).sort(), ['W_dec_norms', 'b_e', 'feature_density']);
  for (const h of Object.values(r.histograms)) {
    t.is(h.edges.length, h.counts.length + 1);
    t.is(h.counts.reduce((a, b) => a + b, 0), 256);
  }
  t.log(`eval: ${(r.ms / r.batches).toFixed(1)} ms per batch of 3×16 tokens`);
  // one sequence per model pass (slices of a batch): the same numbers
  const sae2 = await loadSae(path.join(FIX, 'sae'));
  const sliced = runEvals(model!, sae2, ref.batches, { hookPoint: ref.hook_point, maxLogitElements: 16 * model!.cfg.dVocab });
  sae2.dispose();
  t.is(tf.memory().numTensors, before - 5, 'only the first SAE\'s 5 variables are gone');
  for (const [k, v] of Object.entries(r.metrics)) t.true(Math.abs(sliced.metrics[k]! - v) <= 1e-5 * Math.max(1, Math.abs(v)), `sliced ${k}: ${sliced.metrics[k]} vs ${v}`);
});

withModel('runEvals on attention hook_z: all heads flattened and one head; the identity SAE scores 1 with KL 0', async (t) => {
  const hook = 'blocks.1.attn.hook_z';
  t.true(isHeadHook(hook));
  const tokens = ref.batches[0]!;
  const H = model!.cfg.nHeads;
  const dh = model!.cfg.dHead;
  // An "SAE" that reproduces its input exactly: W_enc = [I, -I], W_dec = [I; -I], no biases,
  // so relu(x) - relu(-x) = x.
  const ident = (d: number, head: number | null) => {
    const W_enc = new Float32Array(d * 2 * d);
    const W_dec = new Float32Array(2 * d * d);
    for (let i = 0; i < d; i++) {
      W_enc[i * 2 * d + i] = 1;
      W_enc[i * 2 * d + d + i] = -1;
      W_dec[i * d + i] = 1;
      W_dec[(d + i) * d + i] = -1;
    }
    return Sae.fromWeights(
      { ...DEFAULT_SAE_CONFIG, dIn: d, dSae: 2 * d, hookPoint: hook, hookPointLayer: 1, hookPointHeadIndex: head, normalizeSaeDecoder: false },
      { W_enc, b_enc: new Float32Array(2 * d), W_dec, b_dec: new Float32Array(d) },
    );
  };
  const before = tf.memory().numTensors;
  for (const head of [null, 2]) {
    const sae = ident(head === null ? H * dh : dh, head);
    const r = runEvals(model!, sae, [tokens], {});
    sae.dispose();
    t.true(Math.abs(r.metrics.ce_loss_with_sae! - r.metrics.ce_loss_without_sae!) < 1e-5, `head ${head}: spliced loss = clean loss`);
    t.true(Math.abs(r.metrics.ce_loss_score! - 1) < 1e-4, `head ${head}: score ${r.metrics.ce_loss_score}`);
    t.true(Math.abs(r.metrics.kl_div!) < 1e-5, `head ${head}: kl ${r.metrics.kl_div}`);
    t.true(Math.abs(r.metrics.explained_variance! - 1) < 1e-5);
    t.true(Math.abs(r.metrics.l2_ratio! - 1) < 1e-5);
    t.true(r.metrics.ce_loss_with_ablation! > r.metrics.ce_loss_without_sae!);
  }
  t.is(tf.memory().numTensors, before);
  // the wrong width is a clear error naming the hook
  const bad = ident(dh, null);
  const e = t.throws(() => runEvals(model!, bad, [tokens], {}));
  t.regex(e!.message, /hook_z.*width 128.*d_in 32/);
  bad.dispose();
  t.is(tf.memory().numTensors, before);
});

test('histogram: counts every finite value, edges span min..max', (t) => {
  const h = histogram([0, 1, 2, 3, 4], 4);
  t.deepEqual(h.edges, [0, 1, 2, 3, 4]);
  t.deepEqual(h.counts, [1, 1, 1, 2]);
  t.deepEqual(histogram([5, 5], 2), { edges: [4.5, 5, 5.5], counts: [0, 2] });
});
