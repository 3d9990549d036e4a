import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { SaeCausalAttention, SaeGeluNew, SaeNormalize, SaeReluGrad } from '../../src/backend/kernelNames.js';
import { ensureSaeKernels, stockKernelOf } from '../../src/backend/register.js';
import { fusedAttentionAvailable, fusedCausalAttention, fusedNormalize, fusedNormalizeAvailable, geluNew, reluTrain } from '../../src/backend/index.js';
import { ShapeError } from '../../src/errors.js';
import { titled } from '../helpers/skip.js';
import { kernelRegistered, leakedTensors, setupTf } from '../helpers/tf.js';

// Which of our kernels exist here, decided before any test is declared (ava wants all
// declarations in one go): a test needing an absent one is declared test.skip with the reason.
const on2 = async (name: string) => ({ wasm: await kernelRegistered(name, 'wasm'), cpu: await kernelRegistered(name, 'cpu') });
const registered = {
  attention: await on2(SaeCausalAttention),
  normalize: await on2(SaeNormalize),
  reluGrad: await on2(SaeReluGrad),
  geluNew: await on2(SaeGeluNew),
};

test.before(async () => {
  await setupTf();
});

/** Runs f on `backend` with our kernels registered, then restores the previous backend. */
async function on<T>(backend: string, f: () => T | Promise<T>): Promise<T> {
  const prev = tf.getBackend();
  await tf.setBackend(backend);
  ensureSaeKernels(backend);
  try {
    return await f();
  } finally {
    await tf.setBackend(prev);
  }
}

/** The stock kernel's answer: the registered (ours) one swapped out for the call. */
function withStock<T>(name: string, backend: string, stock: tf.KernelConfig, f: () => T): T {
  const ours = tf.getKernel(name, backend)!;
  tf.unregisterKernel(name, backend);
  tf.registerKernel(stock);
  try {
    return f();
  } finally {
    tf.unregisterKernel(name, backend);
    tf.registerKernel(ours);
  }
}

const GATHER_CASES: { shape: number[]; idx: number[]; axis: number; dtype: 'float32' | 'int32' }[] = [
  { shape: [7, 5], idx: [6, 0, 3, 3, 1], axis: 0, dtype: 'float32' }, // embedding rows, repeats
  { shape: [4, 9], idx: [8, 2], axis: 1, dtype: 'float32' }, // columns (inner 1)
  { shape: [3, 4, 5], idx: [3, 0], axis: 1, dtype: 'int32' }, // middle axis, int32
  { shape: [3, 4, 5], idx: [4, 4, 0], axis: -1, dtype: 'float32' }, // negative axis
  { shape: [6, 2], idx: [], axis: 0, dtype: 'float32' }, // nothing gathered
];

for (const backend of ['wasm', 'cpu'] as const) {
  test.serial(`${backend}: the block-copy GatherV2 equals the stock kernel (axes, dtypes, repeats, 2-D indices), no leaks`, async (t) => {
    await on(backend, async () => {
      const stock = stockKernelOf(tf.GatherV2, backend);
      if (!stock) throw new Error(`no stock GatherV2 recorded for ${backend}`);
      for (const c of GATHER_CASES) {
        const n = c.shape.reduce((p, d) => p * d, 1);
        const x = tf.tensor(Array.from({ length: n }, (_, i) => (c.dtype === 'int32' ? i * 3 - 7 : Math.sin(i) * 10)), c.shape, c.dtype);
        const idx = tf.tensor1d(c.idx, 'int32');
        let ours: tf.Tensor | undefined;
        t.is(await leakedTensors(() => { ours = tf.gather(x, idx, c.axis); }), 1);
        const ref = withStock(tf.GatherV2, backend, stock, () => tf.gather(x, idx, c.axis));
        t.deepEqual(ours!.shape, ref.shape, JSON.stringify(c));
        t.is(ours!.dtype, c.dtype);
        t.deepEqual(Array.from(ours!.dataSync()), Array.from(ref.dataSync()), JSON.stringify(c));
        tf.dispose([x, idx, ours!, ref]);
      }
      // A 2-D index tensor: out = [2, 3, 4] from params [5, 4].
      const x = tf.tensor2d(Array.from({ length: 20 }, (_, i) => i), [5, 4]);
      const idx = tf.tensor2d([[4, 0, 2], [1, 1, 3]], [2, 3], 'int32');
      const g = tf.gather(x, idx);
      t.deepEqual(g.shape, [2, 3, 4]);
      t.deepEqual(Array.from(g.dataSync()).slice(0, 8), [16, 17, 18, 19, 0, 1, 2, 3]);
      tf.dispose([x, idx, g]);
    });
  });

  test.serial(`${backend}: GatherV2 rejects an out-of-range index, naming it`, async (t) => {
    await on(backend, () => {
      const x = tf.zeros([3, 2]);
      const idx = tf.tensor1d([0, 3], 'int32');
      const buffers = tf.engine().backend.numDataIds();
      const err = t.throws(() => tf.gather(x, idx), { instanceOf: ShapeError });
      t.regex(err!.message, /GatherV2: index 3 \(at position 1\) is not in \[0, 2\]/);
      t.is(tf.engine().backend.numDataIds(), buffers, 'the output allocated before the check is freed');
      tf.dispose([x, idx]);
    });
  });

  test.serial(`${backend}: reluTrain has tf.relu's values and gradient (native SaeReluGrad when registered), no leaks`, async (t) => {
    await on(backend, async () => {
      t.log(`SaeReluGrad ${tf.getKernel(SaeReluGrad, backend) ? 'registered' : 'absent: dy·step(y) fallback'} on ${backend}`);
      const x = tf.tensor2d([[-2, 0, 3, 0.5], [1, -1e-30, 0, 7]]);
      const w = tf.tensor2d([[1, -2, 3, 4], [-5, 6, -7, 8]]);
      const f = (g: (v: tf.Tensor) => tf.Tensor) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(g(v), w)));
      let ours: tf.Tensor | undefined, v: tf.Tensor | undefined;
      t.is(await leakedTensors(() => { ours = f(reluTrain)(x); v = reluTrain(x); }), 2);
      const ref = f(tf.relu)(x);
      const rv = tf.relu(x);
      t.deepEqual(Array.from(v!.dataSync()), Array.from(rv.dataSync()));
      // Compare as numbers: the stock gradient gives -0 where w < 0 and x <= 0, ours +0.
      t.deepEqual(Array.from(ours!.dataSync(), (a) => a + 0), Array.from(ref.dataSync(), (a) => a + 0));
      tf.dispose([x, w, ours!, v!, ref, rv]);
    });
  });
}

test.serial('wasm: tf.clone shares the buffer (zero-copy Identity) and each handle frees independently', async (t) => {
  await on('wasm', () => {
    const backend = tf.backend() as unknown as { refCount(id: tf.DataId): number };
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    t.is(b.dataId, a.dataId);
    t.is(backend.refCount(a.dataId), 2);
    a.dispose();
    t.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
    t.is(backend.refCount(b.dataId), 1);
    b.dispose();
    t.is(backend.refCount(b.dataId), 0);
    // A variable assigned a clone keeps its value after the source is gone.
    const src = tf.tensor1d([4, 5]);
    const v = tf.variable(tf.zeros([2]));
    const c = tf.clone(src);
    v.assign(c);
    tf.dispose([src, c]);
    t.deepEqual(Array.from(v.dataSync()), [4, 5]);
    v.dispose();
  });
});

/** softmax(causal(q·kᵀ·scale))·v with tfjs ops: the reference for the fused kernel. */
function attentionRef(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, P, H] = q.shape;
    const K = k.shape[2];
    const idx = tf.tensor1d(Array.from({ length: H }, (_, h) => Math.floor(h / (H / K))), 'int32');
    const qh = tf.transpose(q, [0, 2, 1, 3]);
    const kh = tf.gather(tf.transpose(k, [0, 2, 1, 3]), idx, 1);
    const vh = tf.gather(tf.transpose(v, [0, 2, 1, 3]), idx, 1);
    const mask = tf.tensor2d(Array.from({ length: P * P }, (_, i) => (i % P > Math.floor(i / P) ? -Infinity : 0)), [P, P]);
    const p = tf.softmax(tf.add(tf.mul(tf.matMul(qh, kh, false, true), scale), mask));
    return tf.transpose(tf.matMul(p, vh), [0, 2, 1, 3]) as tf.Tensor4D;
  });
}

for (const backend of ['wasm', 'cpu'] as const) {
  const skip = registered.attention[backend]
    ? undefined
    : `SaeCausalAttention is not registered on ${backend} (no BLAS addon): the model runs the tfjs ops`;
  (skip ? test.serial.skip : test.serial)(titled(`${backend}: fused causal attention and gelu_new equal the tfjs ops (odd sizes, grouped kv heads)`, skip), async (t) => {
    await on(backend, () => {
      t.true(fusedAttentionAvailable());
      for (const [B, P, H, K, dh] of [[2, 7, 4, 2, 5], [1, 13, 3, 3, 8], [3, 1, 2, 1, 4]] as const) {
        const q = tf.randomNormal([B, P, H, dh], 0, 2, 'float32', 1) as tf.Tensor4D;
        const k = tf.randomNormal([B, P, K, dh], 0, 2, 'float32', 2) as tf.Tensor4D;
        const v = tf.randomNormal([B, P, K, dh], 0, 1, 'float32', 3) as tf.Tensor4D;
        const before = tf.memory().numTensors;
        const z = fusedCausalAttention(q, k, v, 1 / Math.sqrt(dh));
        t.is(tf.memory().numTensors - before, 1);
        const ref = attentionRef(q, k, v, 1 / Math.sqrt(dh));
        t.deepEqual(z.shape, [B, P, H, dh]);
        const err = tf.tidy(() => tf.max(tf.abs(tf.sub(z, ref))).dataSync()[0]!);
        t.true(err < 1e-5, `[${B},${P},${H},${K},${dh}]: max abs error ${err}`);
        tf.dispose([q, k, v, z, ref]);
      }
      const x = tf.linspace(-12, 12, 2001);
      const ours = geluNew(x);
      const ref = tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))));
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(ours, ref))).dataSync()[0]!);
      t.true(err < 2e-6, `gelu_new max abs error ${err}`);
      t.throws(() => fusedCausalAttention(tf.zeros([1, 2, 3, 4]) as tf.Tensor4D, tf.zeros([1, 2, 2, 4]) as tf.Tensor4D, tf.zeros([1, 2, 2, 4]) as tf.Tensor4D, 1), {
        instanceOf: ShapeError, message: /SaeCausalAttention: .*heads a multiple of kv_heads/,
      });
      tf.dispose([x, ours, ref]);
    });
  });
}

const nativeElementKernels = registered.reluGrad.wasm && registered.geluNew.wasm;
(nativeElementKernels ? test.serial : test.serial.skip)(titled('without the native kernels (no addon), reluTrain and geluNew fall back to tfjs ops with the same results', nativeElementKernels ? undefined : 'the native kernels are absent here, so the fallback is what every other test runs'), async (t) => {
  await on('wasm', () => {
    const names = [SaeReluGrad, SaeGeluNew];
    const saved = names.map((n) => tf.getKernel(n, 'wasm'));
    t.true(saved.every((k) => k !== undefined));
    const x = tf.tensor2d([[-2, 0, 3, 0.5], [1, -1, 0, 7]]);
    const w = tf.tensor2d([[1, -2, 3, 4], [-5, 6, -7, 8]]);
    const run = () => tf.tidy(() => {
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(reluTrain(v), w)))(x);
      return [Array.from(g.dataSync(), (a) => a + 0), Array.from(geluNew(x).dataSync())];
    });
    const native = run();
    for (const n of names) tf.unregisterKernel(n, 'wasm');
    let fallback: number[][];
    try {
      fallback = run();
    } finally {
      for (const k of saved) tf.registerKernel(k!);
    }
    t.deepEqual(fallback[0], native[0]);
    fallback[1]!.forEach((v, i) => t.true(Math.abs(v - native[1]![i]!) < 1e-6, `gelu_new at ${i}: ${v} vs ${native[1]![i]}`));
    tf.dispose([x, w]);
  });
});

test.serial('wasm: the view Slice equals the stock kernel (ranks 1–5, dtypes, runs, -1 sizes, empty), no leaks', async (t) => {
  await on('wasm', async () => {
    const stock = stockKernelOf(tf.Slice, 'wasm');
    if (!stock) throw new Error('no stock Slice recorded for wasm');
    const cases: { shape: number[]; begin: number[]; size: number[]; dtype: 'float32' | 'int32' | 'bool' }[] = [
      { shape: [10], begin: [3], size: [4], dtype: 'float32' },
      { shape: [6, 7], begin: [1, 2], size: [3, 4], dtype: 'float32' },
      { shape: [6, 7], begin: [2, 0], size: [3, 7], dtype: 'int32' }, // whole rows: one run
      { shape: [3, 4, 5], begin: [1, 1, 0], size: [2, 2, 5], dtype: 'float32' },
      { shape: [3, 4, 5], begin: [0, 2, 1], size: [-1, 1, 3], dtype: 'bool' },
      { shape: [2, 3, 4, 5], begin: [1, 0, 1, 2], size: [1, 3, 2, 3], dtype: 'float32' },
      { shape: [2, 2, 3, 2, 3], begin: [0, 1, 1, 0, 1], size: [2, 1, 2, -1, 2], dtype: 'int32' },
      { shape: [4, 5], begin: [2, 1], size: [0, 3], dtype: 'float32' },
    ];
    for (const c of cases) {
      const n = c.shape.reduce((p, d) => p * d, 1);
      const vals = Array.from({ length: n }, (_, i) => (c.dtype === 'bool' ? i % 3 === 0 : c.dtype === 'int32' ? i * 7 - 50 : Math.cos(i) * 3));
      const x = tf.tensor(vals as number[], c.shape, c.dtype);
      let ours: tf.Tensor | undefined;
      t.is(await leakedTensors(() => { ours = tf.slice(x, c.begin, c.size); }), 1);
      const ref = withStock(tf.Slice, 'wasm', stock, () => tf.slice(x, c.begin, c.size));
      t.deepEqual(ours!.shape, ref.shape, JSON.stringify(c));
      t.is(ours!.dtype, c.dtype);
      t.deepEqual(Array.from(ours!.dataSync()), Array.from(ref.dataSync()), JSON.stringify(c));
      tf.dispose([x, ours!, ref]);
    }
    const x = tf.zeros([3, 4]);
    t.throws(() => tf.slice(x, [2, 0], [2, 4]), { message: /slice/i });
    x.dispose();
  });
});

for (const backend of ['wasm', 'cpu'] as const) {
  const skip = registered.normalize[backend] ? undefined : `SaeNormalize is not registered on ${backend} (no BLAS addon)`;
  (skip ? test.serial.skip : test.serial)(titled(`${backend}: fused LayerNormPre / RMSNorm equal the tfjs formulas (odd widths), no leaks`, skip), async (t) => {
    await on(backend, () => {
      t.true(fusedNormalizeAvailable());
      for (const [shape, center] of [[[2, 3, 13], true], [[5, 8], false], [[1, 1, 1], true], [[4, 37], true]] as const) {
        const x = tf.add(tf.mul(tf.randomNormal(shape as unknown as number[], 0, 1, 'float32', 5), 3), 0.5);
        const before = tf.memory().numTensors;
        const [n, scale] = fusedNormalize(x, 1e-5, center);
        t.is(tf.memory().numTensors - before, 2);
        const [rn, rs] = tf.tidy(() => {
          const c = center ? tf.sub(x, tf.mean(x, -1, true)) : x;
          const s = tf.sqrt(tf.add(tf.mean(tf.square(c), -1, true), 1e-5));
          return [tf.div(c, s), s];
        });
        t.deepEqual(scale.shape, [...(shape as unknown as number[]).slice(0, -1), 1]);
        const err = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
        t.true(err(n, rn!) < 2e-6 && err(scale, rs!) < 2e-6, `[${shape}] center=${center}: ${err(n, rn!)} ${err(scale, rs!)}`);
        tf.dispose([x, n, scale, rn!, rs!]);
      }
    });
  });
}
