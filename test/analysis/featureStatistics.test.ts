/**
 * Feature statistics against scripts/reference/feature_stats_reference.py (plain torch, SAELens
 * v1.5's formulas) on the tiny GPT-2 with an SAE trained there (test/fixtures/analysis/sae).
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { featureProperties, logitWeightStats, decoderLogitProjection } from '../../src/analysis/featureStatistics.js';
import { loadSae, loadSaeSparsity } from '../../src/sae/saeFolder.js';
import type { Sae } from '../../src/sae/Sae.js';
import { useTinyGpt2 } from '../helpers/tinyGpt2.js';

const FIX = 'test/fixtures/analysis';
const ref = JSON.parse(readFileSync(`${FIX}/feature_stats_reference.json`, 'utf8'));
const { withModel, model } = useTinyGpt2('feature statistics');

function relErr(got: ArrayLike<number>, want: ArrayLike<number>, scale?: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const den = Math.max(Math.abs(scale ? scale[i]! : want[i]!), 1e-30);
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / den);
  }
  return worst;
}

withModel('feature properties equal the torch reference (1e-5 relative)', async (t) => {
  const sae: Sae = await loadSae(`${FIX}/sae`);
  t.teardown(() => sae.dispose());
  const sparsity = (await loadSaeSparsity(`${FIX}/sae`))!;
  const before = tf.memory().numTensors;
  const p = featureProperties(sae, sparsity);
  t.is(tf.memory().numTensors, before);
  const r = ref.properties;
  const errs = {
    logSparsity: relErr(p.logFeatureSparsity, r.log_feature_sparsity),
    dE: relErr(p.dEProjection, r.d_e_projection_float64),
    bEnc: relErr(p.bEnc, r.b_enc),
    bDecProj: relErr(p.bDecProjection, r.b_dec_projection_float64),
    // SAELens's own float32 numbers, for scale: near-zero projections differ by ~1e-5 relative
    bDecProjVsSaeLensFloat32: relErr(p.bDecProjection, r.b_dec_projection),
  };
  t.log(JSON.stringify(errs));
  for (const k of ['logSparsity', 'dE', 'bEnc', 'bDecProj'] as const) t.true(errs[k] < 1e-5, `${k}: ${errs[k]}`);
  t.true(errs.bDecProjVsSaeLensFloat32 < 1e-3);
  t.deepEqual(Array.from(p.dead, Boolean), r.dead_neuron);
  // the dead flag follows SAELens's threshold (< -9)
  const s2 = Float32Array.from(sparsity);
  s2[3] = -10;
  s2[4] = -9;
  const p2 = featureProperties(sae, s2);
  t.is(p2.dead[3], 1);
  t.is(p2.dead[4], 0);
  t.throws(() => featureProperties(sae, new Float32Array(3)), { message: /3 values, the SAE has d_sae 64/ });
});

withModel('logit-weight statistics of W_dec·W_U equal the torch reference (1e-5 relative)', async (t) => {
  const sae: Sae = await loadSae(`${FIX}/sae`);
  const wU = model().unembedWeights();
  t.teardown(() => {
    sae.dispose();
    wU.dispose();
  });
  t.deepEqual(wU.shape, [128, ref.vocab]);
  const before = tf.memory().numTensors;
  // small chunks: the chunking itself is exercised (64 features in 4 chunks)
  const s = logitWeightStats(sae.W_dec, wU, { chunkFloats: 16 * ref.vocab });
  t.is(tf.memory().numTensors, before);
  const r = ref.logit_stats;
  // center_unembed makes every mean ~0 (float noise), so the mean is compared on the scale of the spread
  const meanErr = relErr(s.mean, r.mean, r.std);
  const errs = { mean: meanErr, std: relErr(s.std, r.std), skewness: relErr(s.skewness, r.skewness), kurtosis: relErr(s.kurtosis, r.kurtosis) };
  t.log(JSON.stringify(errs));
  for (const [k, e] of Object.entries(errs)) t.true(e < 1e-5, `${k}: ${e}`);
  let topValErr = 0;
  for (let f = 0; f < ref.d_sae; f++) {
    t.deepEqual(Array.from(s.topTokens[f]!), r.top_tokens[f], `top tokens of feature ${f}`);
    t.deepEqual(Array.from(s.bottomTokens[f]!), r.bottom_tokens[f], `bottom tokens of feature ${f}`);
    topValErr = Math.max(topValErr, relErr(s.topValues[f]!, r.top_values[f]), relErr(s.bottomValues[f]!, r.bottom_values[f]));
  }
  t.true(topValErr < 1e-5, `top/bottom values ${topValErr}`);

  const c = logitWeightStats(sae.W_dec, wU, { cosineSim: true, features: [5, 0, 63] });
  t.deepEqual(Array.from(c.feature), [5, 0, 63]);
  const pick = (a: number[]) => [a[5]!, a[0]!, a[63]!];
  t.true(relErr(c.std, pick(r.cosine_sim.std)) < 1e-5);
  t.true(relErr(c.kurtosis, pick(r.cosine_sim.kurtosis)) < 1e-5);

  const rows = decoderLogitProjection(sae.W_dec, wU, [2]);
  t.is(rows.length, ref.vocab);
  t.is(rows[r.top_tokens[2][0]], Math.max(...rows));
  t.throws(() => logitWeightStats(sae.W_dec, wU, { features: [64] }), { message: /feature index 64 is out of range \(d_sae 64\)/ });
  t.throws(() => logitWeightStats(sae.W_enc, wU), { message: /do not chain/ });
});
