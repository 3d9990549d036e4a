/**
 * Forward pass, every loss term and every gradient against the PyTorch reference
 * (test/fixtures/sae/forward_cases.json, SAELens v1.5.0 formulas), per option.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { saeLosses } from '../../src/sae/losses.js';
import type { SaeParams } from '../../src/sae/Sae.js';
import { Sae } from '../../src/sae/Sae.js';
import { compare, readFixture, saeCfgFrom } from './fixtures.js';

test.before(async () => {
  await setupTf();
});

const fx = readFixture('forward_cases.json');
const { d_in: dIn, d_sae: dSae, batch } = fx;

function paramsOf(name: string): SaeParams {
  const p = fx.params[name];
  return {
    W_enc: tf.tensor2d(p.W_enc, [dIn, dSae]),
    b_enc: tf.tensor1d(p.b_enc),
    W_dec: tf.tensor2d(p.W_dec, [dSae, dIn]),
    b_dec: tf.tensor1d(p.b_dec),
    scalingFactor: tf.tensor1d(p.scaling_factor),
  };
}

const RTOL = 1e-5;

for (const c of fx.cases) {
  test(`forward, losses and gradients match PyTorch: ${c.name}`, (t) => {
    const cfg = saeCfgFrom(c.cfg, dIn, dSae);
    const p = paramsOf(c.params);
    const x = tf.tensor2d(fx.x, [batch, dIn]);
    const deadIdx = Int32Array.from(c.dead as number[]);
    const e = c.expected;
    const before = tf.memory().numTensors;
    {
      const terms = tf.tidy(() => {
        const r = saeLosses(cfg, p, x, { l1Coefficient: c.l1_coefficient, training: true, deadIdx, useGhostGrads: cfg.useGhostGrads });
        return {
          sae_in: r.saeIn.dataSync(), hidden_pre: r.hiddenPre.dataSync(), feature_acts: r.featureActs.dataSync(),
          sae_out: r.saeOut.dataSync(), mse: r.mse.dataSync()[0]!, l1: r.l1.dataSync()[0]!, ghost: r.ghost.dataSync()[0]!,
          loss: r.loss.dataSync()[0]!,
        };
      });
      for (const k of ['sae_in', 'hidden_pre', 'feature_acts', 'sae_out'] as const) {
        const r = compare(terms[k], e[k], RTOL);
        t.true(r.ok, `${k}: ${r.nBad} off, e.g. ${JSON.stringify(r.bad)}`);
      }
      for (const k of ['mse', 'l1', 'ghost', 'loss'] as const) {
        t.true(Math.abs(terms[k] - e[k]) <= RTOL * Math.abs(e[k]) + 1e-9, `${k}: got ${terms[k]}, want ${e[k]}`);
      }
      const order = ['W_enc', 'b_enc', 'W_dec', 'b_dec', 'scalingFactor'] as const;
      const grads = tf.tidy(() => {
        const g = tf.grads((...ts: tf.Tensor[]) => {
          const q: SaeParams = { W_enc: ts[0] as tf.Tensor2D, b_enc: ts[1] as tf.Tensor1D, W_dec: ts[2] as tf.Tensor2D, b_dec: ts[3] as tf.Tensor1D, scalingFactor: ts[4] as tf.Tensor1D };
          return saeLosses(cfg, q, x, { l1Coefficient: c.l1_coefficient, training: true, deadIdx, useGhostGrads: cfg.useGhostGrads }).loss;
        });
        return g(order.map((k) => p[k]!)).map((gi) => gi.dataSync());
      });
      const names = ['W_enc', 'b_enc', 'W_dec', 'b_dec', 'scaling_factor'];
      grads.forEach((g, i) => {
        const r = compare(g, e.grads[names[i]!], 1e-4, 1e-5);
        t.true(r.ok, `grad ${names[i]}: ${r.nBad} off (worst ${r.worst.toExponential(2)}), e.g. ${JSON.stringify(r.bad)}`);
      });
    }
    t.is(tf.memory().numTensors - before, 0, 'no tensors leaked');
    tf.dispose([x, ...(Object.values(p) as tf.Tensor[])]);
  });
}

test('Sae.forward / encode / decode agree with the reference outputs (inference, no ghost)', (t) => {
  const c = fx.cases.find((k: any) => k.name === 'scaling_factor');
  const cfg = saeCfgFrom(c.cfg, dIn, dSae);
  const w = fx.params[c.params];
  const sae = Sae.fromWeights(cfg, {
    W_enc: Float32Array.from(w.W_enc), b_enc: Float32Array.from(w.b_enc), W_dec: Float32Array.from(w.W_dec),
    b_dec: Float32Array.from(w.b_dec), scalingFactor: Float32Array.from(w.scaling_factor),
  });
  const before = tf.memory().numTensors;
  const x = tf.tensor2d(fx.x, [batch, dIn]);
  const out = sae.forward(x);
  t.true(compare(out.out.dataSync(), c.expected.sae_out, RTOL).ok);
  t.true(compare(out.featureActs.dataSync(), c.expected.feature_acts, RTOL).ok);
  t.true(compare(out.hiddenPre.dataSync(), c.expected.hidden_pre, RTOL).ok);
  t.true(compare(out.saeIn.dataSync(), c.expected.sae_in, RTOL).ok);
  const f = sae.encode(x);
  const xh = sae.decode(f);
  t.true(compare(xh.dataSync(), c.expected.sae_out, RTOL).ok);
  tf.dispose([x, f, xh, out.out, out.featureActs, out.hiddenPre, out.saeIn]);
  t.is(tf.memory().numTensors, before);
  t.throws(() => sae.encode(tf.zeros([2, dIn + 1]) as tf.Tensor2D), { message: /d_in/ });
  sae.dispose();
});
