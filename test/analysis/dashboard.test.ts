import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { ActivationDistribution, FINE_BINS } from '../../src/analysis/dashboard/activationDistribution.js';
import { seededRandom } from '../../src/stream/rng.js';
import { FeatureDashboardBuilder, nearestByDecoder } from '../../src/analysis/dashboard/featureDashboards.js';
import { renderDashboards } from '../../src/sinks/dashboard/renderDashboards.js';
import { INJECTION_TOKEN, lcg, syntheticBatches, syntheticDashboards } from '../fixtures/dashboard/synthetic.js';
import { leakedTensors, setupTf } from '../helpers/tf.js';

test.before(async () => {
  await setupTf();
});

const B = 3, P = 20, F = 3, dSae = 10;
const FEATURES = [4, 0, 9];

function build(seed: number) {
  const batches = syntheticBatches({ batches: 6, B, P, F, seed: 5 });
  const b = new FeatureDashboardBuilder(dSae, { features: FEATURES, topK: 5, quantiles: 4, perQuantile: 3, contextBefore: 2, contextAfter: 1, neighbours: 3, seed });
  for (const { acts, tokens } of batches) {
    const t = tf.tensor3d(acts, [B, P, F]);
    b.add(t, tokens);
    t.dispose();
  }
  const r = lcg(3);
  const wDec = tf.tensor2d(Float32Array.from({ length: dSae * 6 }, () => r() - 0.5), [dSae, 6]);
  const wU = tf.tensor2d(Float32Array.from({ length: 6 * 40 }, () => r() - 0.5), [6, 40]);
  const data = b.result({ wDec, wU, decode: (ids) => ids.map((i) => `t${i}`), model: 'm', hookPoint: 'h' });
  const dec = wDec.arraySync();
  const u = wU.arraySync();
  tf.dispose([wDec, wU]);
  return { data, batches, dec, u };
}

test.serial('dashboards: density, top examples, histogram and intervals against brute force', (t) => {
  const { data, batches, dec, u } = build(7);
  t.is(data.meta.nTokens, 6 * B * P);
  t.is(data.meta.nSequences, 6 * B);
  t.deepEqual(data.features.map((f) => f.feature), FEATURES);
  for (let i = 0; i < F; i++) {
    const f = data.features[i]!;
    // every activation of feature column i, with (sequence, position)
    const all: { v: number; s: number; p: number }[] = [];
    batches.forEach(({ acts }, k) => {
      for (let b = 0; b < B; b++) for (let p = 0; p < P; p++) all.push({ v: acts[(b * P + p) * F + i]!, s: k * B + b, p });
    });
    const nz = all.filter((a) => a.v > 0);
    t.is(f.nonZero, nz.length);
    t.is(f.density, nz.length / all.length);
    t.is(f.maxActivation, Math.max(...nz.map((a) => a.v)));
    // top 5 in order, with windows [p-2, p+1] clipped
    const sorted = [...nz].sort((a, b) => b.v - a.v || a.s - b.s || a.p - b.p).slice(0, 5);
    t.deepEqual(f.topExamples.map((e) => [e.sequence, e.position, e.value]), sorted.map((a) => [a.s, a.p, a.v]));
    for (const e of f.topExamples) {
      t.is(e.contextStart, Math.max(0, e.position - 2));
      t.is(e.tokens.length, Math.min(P, e.position + 2) - e.contextStart);
      const { tokens, acts } = batches[Math.floor(e.sequence / B)]!;
      const b = e.sequence % B;
      t.deepEqual(e.tokens, e.tokens.map((_, j) => tokens[b * P + e.contextStart + j]!));
      t.deepEqual(e.values, e.values.map((_, j) => acts[(b * P + e.contextStart + j) * F + i]!));
    }
    // histogram: every non-zero activation counted once, each in the bin its value falls in
    const h = f.activationHistogram;
    t.is(h.counts.reduce((s, c) => s + c, 0), nz.length);
    t.true(h.edges[h.edges.length - 1]! >= f.maxActivation);
    const brute = h.counts.map((_, j) => nz.filter((a) => a.v >= h.edges[j]! && (a.v < h.edges[j + 1]! || j === h.counts.length - 1)).length);
    t.deepEqual(h.counts, brute);
    // intervals: highest first, covering [0, max]; examples inside their interval
    t.is(f.intervals.length, 4);
    t.is(f.intervals[0]!.hi, f.maxActivation);
    t.is(f.intervals[3]!.lo, 0);
    let frac = 0;
    for (const iv of f.intervals) {
      frac += iv.fraction;
      t.true(iv.examples.length <= 3);
      for (const e of iv.examples) t.true(e.value >= iv.lo && e.value <= iv.hi, `${e.value} in [${iv.lo}, ${iv.hi}]`);
      const inRange = nz.filter((a) => a.v >= iv.lo && a.v <= iv.hi).length;
      if (inRange >= 3) t.true(iv.examples.length >= 1, `interval [${iv.lo}, ${iv.hi}] with ${inRange} tokens has examples`);
      // the fraction comes from the fine grid: within one grid cell's worth of the exact count on each side
      const exact = inRange / all.length;
      t.true(Math.abs(iv.fraction - exact) <= nz.filter((a) => Math.abs(a.v - iv.lo) < (2 * f.maxActivation) / (FINE_BINS / 2) || Math.abs(a.v - iv.hi) < (2 * f.maxActivation) / (FINE_BINS / 2)).length / all.length + 1e-12);
    }
    t.true(Math.abs(frac - f.density) < 1e-9, 'the intervals partition the non-zero activations');
    // logit effects: W_dec[f] @ W_U
    const row = u[0]!.map((_, v) => dec[f.feature]!.reduce((s, x, d) => s + x * u[d]![v]!, 0));
    const order = row.map((v, k) => [v, k] as const).sort((a, b) => b[0] - a[0]);
    t.deepEqual(f.logits.top.map((x) => x.token), order.slice(0, 10).map((o) => o[1]));
    t.deepEqual(f.logits.bottom.map((x) => x.token), order.slice(-10).reverse().map((o) => o[1]));
    for (const x of f.logits.top) t.true(Math.abs(x.value - row[x.token]!) < 1e-5);
    // neighbours: decoder cosine, self excluded, highest first
    const cos = (a: number[], b: number[]) => a.reduce((s, x, d) => s + x * b[d]!, 0) / Math.hypot(...a) / Math.hypot(...b);
    const want = dec.map((r, g) => [cos(dec[f.feature]!, r), g] as const).filter(([, g]) => g !== f.feature).sort((a, b) => b[0] - a[0]).slice(0, 3);
    t.deepEqual(f.neighbours.map((n) => n.feature), want.map((w) => w[1]));
    for (const [k, n] of f.neighbours.entries()) t.true(Math.abs(n.cosine - want[k]![0]) < 1e-5);
  }
  // the vocabulary covers every token shown
  for (const f of data.features) for (const e of f.topExamples) for (const id of e.tokens) t.is(data.vocab[id], `t${id}`);
});

test.serial('dashboards: seeded (same seed, same examples), no tensors left', async (t) => {
  t.is(await leakedTensors(() => build(11)), 0);
  const a = build(11).data, b = build(11).data, c = build(12).data;
  t.deepEqual(a, b);
  t.notDeepEqual(a.features.map((f) => f.intervals), c.features.map((f) => f.intervals));
});

test('ActivationDistribution: exact counts and bounded samples while the range doubles', (t) => {
  const d = new ActivationDistribution(4, seededRandom(1));
  const r = lcg(8);
  const vals: number[] = [];
  // small values first, then ever larger ones: the grid doubles many times
  for (let k = 0; k < 4000; k++) {
    const v = r() * 0.01 * 1.003 ** k;
    vals.push(v);
    d.add(v, () => ({ batch: k, position: 0, value: v, contextStart: 0, tokens: [], values: [v] }));
  }
  const h = d.histogram(50);
  t.is(h.counts.reduce((s, c) => s + c, 0), 4000);
  t.deepEqual(h.counts, h.counts.map((_, j) => vals.filter((v) => v >= h.edges[j]! && (v < h.edges[j + 1]! || j === h.counts.length - 1)).length));
  t.true(h.counts.length <= 50);
  const ivs = d.intervals(10, 4);
  t.is(ivs.length, 10);
  const seen = new Set<number>();
  for (const iv of ivs) {
    t.true(iv.examples.length <= 4);
    for (const e of iv.examples) {
      t.true(e.value >= iv.lo && e.value <= iv.hi);
      t.false(seen.has(e.batch), 'an example appears once');
      seen.add(e.batch);
    }
  }
  t.true(ivs[0]!.examples.length > 0 && ivs[9]!.examples.length > 0);
});

test('dashboards: bad input is a clear error', (t) => {
  t.throws(() => new FeatureDashboardBuilder(4, { features: [] }), { message: /no features/ });
  t.throws(() => new FeatureDashboardBuilder(4, { features: [4] }), { message: /feature 4 is not in \[0, d_sae=4\)/ });
  t.throws(() => new FeatureDashboardBuilder(4, { features: [1, 1] }), { message: /chosen twice/ });
  t.throws(() => new FeatureDashboardBuilder(4, { features: [1], topK: 0 }), { message: /topK must be a positive integer/ });
  const b = new FeatureDashboardBuilder(4, { features: [1, 2] });
  const x = tf.zeros([1, 3, 3]);
  t.throws(() => b.add(x, new Int32Array(3)), { name: 'ShapeError', message: /\[batch, seq, 2\]/ });
  x.dispose();
  const w = tf.zeros([4, 2]) as tf.Tensor2D, u = tf.zeros([2, 3]) as tf.Tensor2D, eye = tf.eye(3) as tf.Tensor2D;
  t.throws(() => b.result({ wDec: w, wU: u, decode: () => [], model: 'm', hookPoint: 'h' }), { message: /no tokens were seen/ });
  t.deepEqual(nearestByDecoder(eye, [0], 0), [[]]);
  tf.dispose([w, u, eye]);
});

test.serial('renderDashboards: one section per feature, every string escaped', (t) => {
  const data = syntheticDashboards();
  const html = renderDashboards(data, { generatedAt: new Date('2026-01-01T00:00:00Z') });
  t.is((html.match(/<section class="feature"/g) ?? []).length, data.features.length);
  t.is((html.match(/<option value=/g) ?? []).length, data.features.length);
  t.false(html.includes(INJECTION_TOKEN), 'the raw token never reaches the HTML');
  t.true(html.includes('&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;'));
  t.false(html.includes('<b>model</b>'));
  t.false(/src="http|href="http/.test(html), 'no external resources');
});
