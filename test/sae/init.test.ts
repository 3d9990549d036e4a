import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../../src/sae/SaeConfig.js';
import { saeLosses } from '../../src/sae/losses.js';
import { orthogonal } from '../../src/sae/init.js';
import { ConfigError, ShapeError } from '../../src/errors.js';

test.before(async () => {
  await setupTf();
});

const base: SaeConfig = { ...DEFAULT_SAE_CONFIG, dIn: 16, dSae: 48 };

function rowNorms(w: Float32Array, rows: number, cols: number): number[] {
  return Array.from({ length: rows }, (_, r) => Math.hypot(...w.subarray(r * cols, (r + 1) * cols)));
}

test('default init: kaiming-uniform bounds, unit W_dec rows, zero biases, unit scaling factor; seeded', (t) => {
  const before = tf.memory().numTensors;
  const a = Sae.create(base, { seed: 5 });
  const s = a.snapshot();
  const bound = Math.sqrt(6 / 48); // W_enc [d_in, d_sae]: fan_in = d_sae (torch's size(1))
  t.true(s.W_enc.every((v) => Math.abs(v) <= bound));
  t.true(Math.max(...s.W_enc.map(Math.abs)) > 0.9 * bound, 'uses the full range');
  for (const n of rowNorms(s.W_dec, 48, 16)) t.true(Math.abs(n - 1) < 1e-5);
  t.true(s.b_enc.every((v) => v === 0) && s.b_dec.every((v) => v === 0));
  t.true(s.scalingFactor.every((v) => v === 1));
  const b = Sae.create(base, { seed: 5 });
  t.deepEqual(b.snapshot().W_enc, s.W_enc, 'same seed, same weights');
  const c = Sae.create(base, { seed: 6 });
  t.notDeepEqual(c.snapshot().W_enc, s.W_enc);
  [a, b, c].forEach((x) => x.dispose());
  t.is(tf.memory().numTensors, before, 'create + dispose leaves nothing');
});

test('decoder_orthogonal_init: orthonormal W_dec columns (torch orthogonal_ on W_dec.T)', (t) => {
  const sae = Sae.create({ ...base, decoderOrthogonalInit: true, normalizeSaeDecoder: false }, { seed: 2 });
  const gram = tf.tidy(() => tf.matMul(tf.transpose(sae.W_dec), sae.W_dec).arraySync() as number[][]);
  for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) t.true(Math.abs(gram[i]![j]! - (i === j ? 1 : 0)) < 1e-4);
  sae.dispose();
});

test('decoder_heuristic_init: rows of norm 0.1 from non-negative uniform draws; renormalized when normalize_sae_decoder', (t) => {
  const h = Sae.create({ ...base, decoderHeuristicInit: true, normalizeSaeDecoder: false }, { seed: 3 });
  const s = h.snapshot();
  t.true(s.W_dec.every((v) => v >= 0));
  for (const n of rowNorms(s.W_dec, 48, 16)) t.true(Math.abs(n - 0.1) < 1e-6);
  h.dispose();
  // SAELens v1.5 normalizes once more after the encoder init when normalize_sae_decoder is set
  const u = Sae.create({ ...base, decoderHeuristicInit: true, normalizeSaeDecoder: true, initEncoderAsDecoderTranspose: true }, { seed: 3 });
  const su = u.snapshot();
  for (const n of rowNorms(su.W_dec, 48, 16)) t.true(Math.abs(n - 1) < 1e-5);
  // the encoder copy was taken before that: W_enc = 0.1 · W_decᵀ
  for (let i = 0; i < 16; i++) for (let j = 0; j < 48; j++) t.true(Math.abs(su.W_enc[i * 48 + j]! - 0.1 * su.W_dec[j * 16 + i]!) < 1e-6);
  u.dispose();
});

test('init_encoder_as_decoder_transpose: W_enc = W_decᵀ', (t) => {
  const sae = Sae.create({ ...base, initEncoderAsDecoderTranspose: true }, { seed: 4 });
  const s = sae.snapshot();
  // equal up to the rounding of the second (idempotent) renormalization, as in SAELens
  for (let i = 0; i < 16; i++) for (let j = 0; j < 48; j++) t.true(Math.abs(s.W_enc[i * 48 + j]! - s.W_dec[j * 16 + i]!) < 1e-6);
  sae.dispose();
});

test('noise_scale perturbs hidden_pre in training only, seeded', (t) => {
  const cfg = { ...base, noiseScale: 0.5 };
  const sae = Sae.create(cfg, { seed: 1 });
  const x = tf.randomNormal([8, 16], 0, 1, 'float32', 9) as tf.Tensor2D;
  const run = (training: boolean, seed: number) =>
    tf.tidy(() => saeLosses(cfg, sae.params(), x, { l1Coefficient: 0, training, noiseSeed: seed }).featureActs.dataSync());
  const clean = tf.tidy(() => sae.encode(x).dataSync());
  t.deepEqual(run(false, 1), clean, 'no noise at eval');
  t.notDeepEqual(run(true, 1), clean, 'noise in training');
  t.deepEqual(run(true, 1), run(true, 1), 'seeded');
  x.dispose();
  sae.dispose();
});

test('bad configs and weights are refused with the field named', (t) => {
  t.throws(() => Sae.create({ ...base, dSae: 0 }), { instanceOf: ConfigError, message: /dSae/ });
  t.throws(() => Sae.create({ ...base, activationFn: 'gelu' as never }), { instanceOf: ConfigError, message: /activationFn/ });
  t.throws(
    () => Sae.fromWeights(base, { W_enc: new Float32Array(3), b_enc: new Float32Array(48), W_dec: new Float32Array(768), b_dec: new Float32Array(16) }),
    { instanceOf: ShapeError, message: /W_enc has 3 values, expected 768/ },
  );
});

test('forwardHooks names the values as SAELens hooks', (t) => {
  const sae = Sae.create(base, { seed: 1 });
  const x = tf.randomNormal([3, 16], 0, 1, 'float32', 2) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  const h = sae.forwardHooks(x);
  t.deepEqual(Object.keys(h).sort(), ['hook_hidden_post', 'hook_hidden_pre', 'hook_sae_in', 'hook_sae_out']);
  t.deepEqual(h.hook_hidden_post.shape, [3, 48]);
  t.deepEqual(h.hook_sae_out.shape, [3, 16]);
  tf.dispose(Object.values(h));
  t.is(tf.memory().numTensors, before);
  x.dispose();
  sae.dispose();
});

test('orthogonal() equals the sign-fixed Householder QR of the same normal draw (torch orthogonal_ semantics)', (t) => {
  for (const [rows, cols] of [[12, 30], [30, 12]] as const) {
    const tall: [number, number] = rows < cols ? [cols, rows] : [rows, cols];
    const ref = tf.tidy(() => {
      const a = tf.randomNormal(tall, 0, 1, 'float32', 7) as tf.Tensor2D;
      const [q, r] = tf.linalg.qr(a) as [tf.Tensor2D, tf.Tensor2D];
      const n = tall[1];
      const d = tf.sign(tf.sum(tf.mul(tf.slice(r, [0, 0], [n, n]), tf.eye(n)), 0));
      const qf = tf.mul(q, d) as tf.Tensor2D;
      return (rows < cols ? tf.transpose(qf) : qf).dataSync();
    });
    const q = orthogonal([rows, cols], 7);
    t.deepEqual(q.shape, [rows, cols]);
    const got = q.dataSync();
    for (let i = 0; i < got.length; i++) t.true(Math.abs(got[i]! - ref[i]!) < 1e-4, `[${rows},${cols}] #${i}: ${got[i]} vs ${ref[i]}`);
    q.dispose();
  }
});
