import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { SaeAdamUpdate } from '../../src/backend/kernelNames.js';
import { ensureSaeKernels } from '../../src/backend/register.js';
import { Adam } from '../../src/train/Adam.js';
import { titled } from '../helpers/skip.js';
import { kernelRegistered, leakedTensors, setupTf } from '../helpers/tf.js';

// Decided before any test is declared (ava wants all declarations in one go).
const adamRegistered = { wasm: await kernelRegistered(SaeAdamUpdate, 'wasm'), cpu: await kernelRegistered(SaeAdamUpdate, 'cpu') };

test.before(async () => {
  await setupTf();
});

/** Three Adam steps of a [37, 53] parameter; returns param, m, v after them. */
function run(): Float32Array[] {
  const init = tf.randomNormal([37, 53], 0, 1, 'float32', 11);
  const p = tf.variable(init);
  init.dispose();
  const adam = new Adam(0.9, 0.999);
  for (let i = 0; i < 3; i++) {
    const g = tf.tidy(() => tf.mul(tf.randomNormal([37, 53], 0, 1, 'float32', 20 + i), i === 1 ? 1e-4 : 1));
    adam.update('w', p, g, 3e-4 * (i + 1));
    g.dispose();
  }
  const st = adam.state().params['w']!;
  const out = [p.dataSync() as Float32Array, st.m, st.v];
  adam.dispose();
  p.dispose();
  return out;
}

for (const backend of ['wasm', 'cpu'] as const) {
  const skip = adamRegistered[backend]
    ? undefined
    : `SaeAdamUpdate is not registered for ${backend} (BLAS addon absent or built before it): nothing to compare`;
  (skip ? test.serial.skip : test.serial)(titled(`${backend}: the fused SaeAdamUpdate kernel is bit-identical to the tfjs ops, without leaks`, skip), async (t) => {
    const prev = tf.getBackend();
    await tf.setBackend(backend);
    ensureSaeKernels(backend);
    try {
      const kernel = tf.getKernel(SaeAdamUpdate, backend)!;
      t.truthy(kernel);
      let fused: Float32Array[] = [];
      t.is(await leakedTensors(() => { fused = run(); }), 0);
      tf.unregisterKernel(SaeAdamUpdate, backend);
      let plain: Float32Array[];
      try {
        plain = run();
      } finally {
        tf.registerKernel(kernel);
      }
      ['param', 'm', 'v'].forEach((name, i) => t.deepEqual(fused[i], plain[i], `${name} differs`));
    } finally {
      await tf.setBackend(prev);
    }
  });
}
