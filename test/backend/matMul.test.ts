/**
 * SaeMatMul and the OpenBLAS BatchMatMul kernel against tfjs's stock kernel, on wasm and cpu:
 * all transpose flags, batched and broadcast batch shapes, odd sizes, gradients, leaks.
 * The BLAS cases skip (with a message) when the addon is not built.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { setupTf } from '../helpers/tf.js';
import { backendInfo, blasStatus, matMulKernelState, saeMatMul } from '../../src/backend/index.js';
import { setMatMulKernel } from '../../src/backend/register.js';
import { ensureSaeKernels } from '../../src/backend/register.js';
import { batchOffsets } from '../../src/backend/kernels/blasBatchMatMul.js';

const BACKENDS = ['wasm', 'cpu'] as const;
const HAVE_BLAS = blasStatus().loaded;
const blasTest = HAVE_BLAS ? test.serial : test.serial.skip;
if (!HAVE_BLAS) console.log(`BLAS addon tests skipped: ${blasStatus().reason}`);

/** [aShape, bShape] before transposes are applied (the product's natural operand shapes). */
const CASES: Array<[number[], number[]]> = [
  [[1, 1], [1, 1]],
  [[7, 13], [13, 5]],
  [[129, 257], [257, 65]],
  [[3, 7, 13], [3, 13, 5]],
  [[4, 7, 13], [13, 5]],
  [[7, 13], [2, 13, 5]],
  [[2, 1, 7, 13], [3, 13, 5]],
  [[2, 3, 4, 6], [1, 3, 6, 2]],
];
const FLAGS: Array<[boolean, boolean]> = [[false, false], [true, false], [false, true], [true, true]];

let seed = 1;
function operands(aShape: number[], bShape: number[], ta: boolean, tb: boolean): [tf.Tensor, tf.Tensor] {
  const swap = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!] : s);
  return [tf.randomNormal(swap(aShape, ta), 0, 1, 'float32', seed++), tf.randomNormal(swap(bShape, tb), 0, 1, 'float32', seed++)];
}

function assertClose(t: import('ava').ExecutionContext, got: tf.Tensor, want: tf.Tensor, what: string): void {
  t.deepEqual(got.shape, want.shape, `${what}: shape`);
  const g = got.dataSync(), w = want.dataSync();
  let worst = 0, scale = 1;
  for (let i = 0; i < w.length; i++) {
    worst = Math.max(worst, Math.abs(g[i]! - w[i]!));
    scale = Math.max(scale, Math.abs(w[i]!));
  }
  t.true(worst <= 2e-5 * scale * 16, `${what}: max |diff| ${worst} (scale ${scale})`);
}

/** Runs `body` inside tf.tidy on fresh operands for every CASES × FLAGS combination. */
function forEachCase(
  backend: string,
  body: (a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean, what: string, aShape: number[], bShape: number[]) => void,
): void {
  for (const [aShape, bShape] of CASES) {
    for (const [ta, tb] of FLAGS) {
      const what = `${backend} a[${aShape}] b[${bShape}] ta=${ta} tb=${tb}`;
      tf.tidy(() => {
        const [a, b] = operands(aShape, bShape, ta, tb);
        body(a, b, ta, tb, what, aShape, bShape);
      });
    }
  }
}

/** Product, dA and dB of `got` close to `want`. */
function assertSameResult(
  t: import('ava').ExecutionContext,
  got: { c: tf.Tensor; grads: tf.Tensor[] },
  want: { c: tf.Tensor; grads: tf.Tensor[] },
  what: string,
): void {
  assertClose(t, got.c, want.c, `${what} product`);
  assertClose(t, got.grads[0]!, want.grads[0]!, `${what} dA`);
  assertClose(t, got.grads[1]!, want.grads[1]!, `${what} dB`);
}

/**
 * Product and gradients (of sum(C ⊙ W), W fixed) through tf.matMul on the current backend.
 * tfjs's own BatchMatMul gradient does not reduce broadcast batch dims, so operands are
 * broadcast explicitly first (BroadcastTo's gradient sums them back).
 */
function reference(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean, w: tf.Tensor) {
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const full = (x: tf.Tensor) => tf.broadcastTo(x, [...outer, ...x.shape.slice(-2)]);
  const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(full(x), full(y), ta, tb), w));
  return { c: tf.matMul(full(a), full(b), ta, tb), grads: tf.grads(f)([a, b]) };
}
function ours(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean, w: tf.Tensor) {
  const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(saeMatMul(x, y, ta, tb), w));
  return { c: saeMatMul(a, b, ta, tb), grads: tf.grads(f)([a, b]) };
}

test.before(async () => {
  await setupTf();
});

test.after.always(async () => {
  await tf.setBackend('wasm');
  if (HAVE_BLAS) setMatMulKernel('wasm', 'blas');
});

for (const backend of BACKENDS) {
  test.serial(`${backend}: saeMatMul equals stock tf.matMul (values + gradients), no leaks`, async (t) => {
    await tf.setBackend(backend);
    ensureSaeKernels(backend);
    const before = tf.memory().numTensors;
    forEachCase(backend, (a, b, ta, tb, what, aShape, bShape) => {
      const outShape = tf.broadcast_util
        .assertAndGetBroadcastShape(aShape.slice(0, -2), bShape.slice(0, -2))
        .concat([aShape[aShape.length - 2]!, bShape[bShape.length - 1]!]);
      const w = tf.randomNormal(outShape, 0, 1, 'float32', seed++);
      if (HAVE_BLAS) setMatMulKernel(backend, 'stock');
      const want = reference(a, b, ta, tb, w);
      const got = ours(a, b, ta, tb, w);
      assertSameResult(t, got, want, what);
      if (HAVE_BLAS) {
        setMatMulKernel(backend, 'blas');
        const blas = ours(a, b, ta, tb, w);
        assertSameResult(t, blas, want, `${what} blas`);
      }
    });
    t.is(tf.memory().numTensors, before, 'tensors leaked');
  });

  blasTest(`${backend}: BLAS as BatchMatMul equals the stock kernel for tf.matMul and its gradient`, async (t) => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    forEachCase(backend, (a, b, ta, tb, what) => {
      const w = tf.onesLike(tf.matMul(a, b, ta, tb));
      setMatMulKernel(backend, 'stock');
      const want = reference(a, b, ta, tb, w);
      t.is(matMulKernelState(backend)?.matMul, 'stock');
      setMatMulKernel(backend, 'blas');
      t.is(matMulKernelState(backend)?.matMul, 'blas');
      const got = reference(a, b, ta, tb, w);
      assertClose(t, got.c, want.c, `${what} product`);
      // Broadcast batch dims straight to the kernel (offsets, no explicit broadcast).
      assertClose(t, tf.matMul(a, b, ta, tb), want.c, `${what} broadcast product`);
      assertClose(t, got.grads[0]!, want.grads[0]!, `${what} dA`);
      assertClose(t, got.grads[1]!, want.grads[1]!, `${what} dB`);
    });
    t.is(tf.memory().numTensors, before, 'tensors leaked');
  });

  blasTest(`${backend}: BLAS kernel handles empty dims and falls back for int32`, async (t) => {
    await tf.setBackend(backend);
    setMatMulKernel(backend, 'blas');
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const z = tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4]));
      t.deepEqual(z.shape, [3, 4]);
      t.deepEqual(Array.from(z.dataSync()), new Array(12).fill(0));
      const e = tf.matMul(tf.ones([0, 5]), tf.ones([5, 2]));
      t.deepEqual(e.shape, [0, 2]);
      if (backend === 'cpu') {
        // wasm's stock kernel rejects int32 itself; cpu's multiplies it: the fallback must run.
        const i = tf.matMul(tf.tensor2d([[1, 2]], [1, 2], 'int32'), tf.tensor2d([[3], [4]], [2, 1], 'int32'));
        t.is(i.dataSync()[0], 11);
      }
    });
    t.is(tf.memory().numTensors, before, 'tensors leaked');
  });
}

test('saeMatMul rejects mismatched inner dims and non-float32 with a clear error', (t) => {
  t.throws(() => tf.tidy(() => saeMatMul(tf.ones([2, 3]), tf.ones([4, 2]))), { message: /inner dimensions 3 and 4/ });
  t.throws(() => tf.tidy(() => saeMatMul(tf.ones([2, 3], 'int32'), tf.ones([3, 2], 'int32'))), { message: /float32/ });
});

test('batchOffsets broadcasts size-1 and missing batch dims', (t) => {
  t.deepEqual(Array.from(batchOffsets([2, 3], [2, 1], 10)), [0, 0, 0, 10, 10, 10]);
  t.deepEqual(Array.from(batchOffsets([2, 3], [3], 10)), [0, 10, 20, 0, 10, 20]);
  t.deepEqual(Array.from(batchOffsets([], [], 10)), [0]);
});

test('backendInfo reports the backend and the active matMul kernel', (t) => {
  const info = backendInfo();
  t.is(info.backend, tf.getBackend());
  t.truthy(info.kernels);
  t.is(info.kernels!.matMul, HAVE_BLAS && ['wasm', 'cpu'].includes(info.backend) ? 'blas' : 'stock');
  t.log(JSON.stringify(info.kernels));
});

test('SAE_RX_BLAS=0 disables the addon', (t) => {
  const out = execFileSync(
    process.execPath,
    ['--import=tsx', '--input-type=module', '-e',
      "import { blasStatus } from './src/backend/blas.ts'; console.log(JSON.stringify(blasStatus()));"],
    { env: { ...process.env, SAE_RX_BLAS: '0' }, encoding: 'utf8' },
  );
  const status = JSON.parse(out.trim().split('\n').pop()!) as { loaded: boolean; reason: string };
  t.false(status.loaded);
  t.regex(status.reason, /SAE_RX_BLAS=0/);
});

test.serial('wasm without BLAS: SaeMatMul never hands transpose flags to the stock kernel, forward or backward', async (t) => {
  await tf.setBackend('wasm');
  const stock = tf.getKernel(tf.BatchMatMul, 'wasm')!;
  const seen: string[] = [];
  // The stock kernel as SaeMatMul's stock path sees it, with a spy recording its flags.
  const spy: tf.KernelFunc = (args) => {
    const at = args.attrs as { transposeA: boolean; transposeB: boolean };
    seen.push(`${at.transposeA}/${at.transposeB}`);
    return stock.kernelFunc(args);
  };
  const { makeStockSaeMatMul } = await import('../../src/backend/kernels/stockSaeMatMul.js');
  const f = makeStockSaeMatMul({
    stock: spy,
    tile: tf.getKernel(tf.Tile, 'wasm')!.kernelFunc,
    transpose: tf.getKernel(tf.Transpose, 'wasm')!.kernelFunc,
  });
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const a = tf.randomNormal([9, 4], 0, 1, 'float32', 7), b = tf.randomNormal([6, 9], 0, 1, 'float32', 8);
    const out = f({ inputs: { a, b }, backend: tf.backend(), attrs: { transposeA: true, transposeB: true } }) as tf.TensorInfo;
    const c = tf.engine().makeTensorFromTensorInfo(out);
    assertClose(t, c, tf.matMul(tf.transpose(a), tf.transpose(b)), 'spy product');
  });
  t.deepEqual(seen, ['false/false']);
  // And the backward pass of saeMatMul runs SaeMatMul (plus transposes), never BatchMatMul.
  if (HAVE_BLAS) setMatMulKernel('wasm', 'stock');
  const { kernelNames } = await tf.profile(() =>
    tf.tidy(() => {
      const x = tf.ones([5, 3]), w = tf.ones([3, 4]);
      tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(saeMatMul(p, q)))([x, w]);
    }),
  );
  if (HAVE_BLAS) setMatMulKernel('wasm', 'blas');
  t.true(kernelNames.includes('SaeMatMul'), kernelNames.join(','));
  t.false(kernelNames.includes('BatchMatMul'), kernelNames.join(','));
  t.is(tf.memory().numTensors, before, 'tensors leaked');
});
