/**
 * matMul throughput (GFLOP/s) for the SAE's shapes, per backend, kernel (stock / OpenBLAS)
 * and method, for the forward product and the two products backprop needs:
 *   fwd  A[M,K]·B[K,N]          (x·W_enc, f·W_dec)
 *   dA   dC[M,N]·B[K,N]ᵀ        transposeB (gradient w.r.t. the activations)
 *   dB   A[M,K]ᵀ·dC[M,N]        transposeA (gradient w.r.t. the weights)
 * Methods: `tf.matMul` with the flags (what tfjs's own gradient does), `transpose+matMul`
 * (explicit tf.transpose, then a plain product), `saeMatMul` (src/backend/ops/saeMatMul.ts).
 * Slow combinations are measured on fewer rows (M scaled down, `scaledRows`): their
 * GFLOP/s hardly depends on M, and a full 4096×768×12288 product on a naive loop takes minutes.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { blasStatus, saeMatMul } from '../src/backend/index.js';
import { setMatMulKernel } from '../src/backend/register.js';
import { registerSaeKernels } from '../src/backend/register.js';

export interface MatMulBenchOptions {
  /** Only measurements whose name (`backend/kernel/method/MxKxN/variant`) contains this. */
  filter?: string;
  /** Shorter timing (and slow kernels measured on fewer rows). */
  quick?: boolean;
  /** Called with each result line as it is measured. */
  emit?: (line: object) => void;
}

type Variant = 'fwd' | 'dA' | 'dB';
type Method = 'tf.matMul' | 'transpose+matMul' | 'saeMatMul';

/** [M, K, N]: batch of 4096 activations, d_in, d_sae. */
const SHAPES: Array<[number, number, number]> = [
  [4096, 512, 4096],
  [4096, 768, 12288],
];

function operands(v: Variant, m: number, k: number, n: number): { a: tf.Tensor2D; b: tf.Tensor2D; ta: boolean; tb: boolean } {
  const r = (s: [number, number], seed: number) => tf.randomUniform(s, -1, 1, 'float32', seed) as tf.Tensor2D;
  switch (v) {
    case 'fwd':
      return { a: r([m, k], 1), b: r([k, n], 2), ta: false, tb: false };
    case 'dA': // dC[M,N]·Bᵀ: out [M,K], inner N
      return { a: r([m, n], 3), b: r([k, n], 4), ta: false, tb: true };
    case 'dB': // Aᵀ·dC: out [K,N], inner M
      return { a: r([m, k], 5), b: r([m, n], 6), ta: true, tb: false };
  }
}

function product(method: Method, a: tf.Tensor2D, b: tf.Tensor2D, ta: boolean, tb: boolean): tf.Tensor {
  switch (method) {
    case 'tf.matMul':
      return tf.matMul(a, b, ta, tb);
    case 'saeMatMul':
      return saeMatMul(a, b, ta, tb);
    case 'transpose+matMul':
      return tf.tidy(() => tf.matMul(ta ? tf.transpose(a) : a, tb ? tf.transpose(b) : b));
  }
}

/** Mean ms per call over at least `minMs` (after one warm-up call), at most `maxIters` calls. */
function timeCalls(f: () => void, minMs: number, maxIters: number): { ms: number; iters: number } {
  f();
  let iters = 0;
  const t0 = performance.now();
  do {
    f();
    iters++;
  } while (performance.now() - t0 < minMs && iters < maxIters);
  return { ms: (performance.now() - t0) / iters, iters };
}

function measure(method: Method, v: Variant, m: number, k: number, n: number, minMs: number): { ms: number; iters: number } {
  const { a, b, ta, tb } = operands(v, m, k, n);
  try {
    return timeCalls(() => product(method, a, b, ta, tb).dispose(), minMs, 50);
  } finally {
    a.dispose();
    b.dispose();
  }
}

export async function benchMatMul(opts: MatMulBenchOptions = {}): Promise<object[]> {
  const emit = opts.emit ?? (() => {});
  const minMs = opts.quick ? 500 : 2000;
  const maxFullMs = opts.quick ? 1500 : 8000; // longer single calls are measured on fewer rows
  const shapes = SHAPES;
  const kernels: Array<'stock' | 'blas'> = blasStatus().loaded ? ['stock', 'blas'] : ['stock'];
  const methods: Method[] = ['tf.matMul', 'transpose+matMul', 'saeMatMul'];
  const variants: Variant[] = ['fwd', 'dA', 'dB'];
  const initial = tf.getBackend();
  const out: object[] = [];
  if (!blasStatus().loaded) {
    const line = { bench: 'matMul', note: `BLAS kernel not measured: ${blasStatus().reason}` };
    out.push(line);
    emit(line);
  }
  try {
    for (const backend of ['wasm', 'cpu']) {
      for (const kernel of kernels) {
        for (const [M, K, N] of shapes) {
          for (const variant of variants) {
            for (const method of methods) {
              // With BLAS the three methods differ only by the transposes' copies; fwd has none.
              if (variant === 'fwd' && method !== 'tf.matMul') continue;
              const name = `${backend}/${kernel}/${method}/${M}x${K}x${N}/${variant}`;
              if (opts.filter && !name.includes(opts.filter)) continue;
              await tf.setBackend(backend);
              registerSaeKernels(backend);
              setMatMulKernel(backend, kernel);
              // Probe on few rows, then decide how many rows the measured run can afford.
              // Warm (XNNPACK packs B on its first call); 16 rows: a slow kernel takes seconds
              // even on those for the big shape.
              const probeRows = Math.min(M, 16);
              const probe = measure(method, variant, probeRows, K, N, 0);
              const estFull = (probe.ms * M) / probeRows;
              const rows = estFull <= maxFullMs ? M : Math.max(probeRows, Math.floor((M * maxFullMs) / estFull / 16) * 16);
              const { ms, iters } = measure(method, variant, rows, K, N, minMs);
              const flops = 2 * rows * K * N;
              const line = {
                bench: 'matMul', name, backend, kernel, method, variant,
                shape: [M, K, N], transposeA: variant === 'dB', transposeB: variant === 'dA',
                ...(rows !== M ? { scaledRows: rows } : {}),
                gflops: Number((flops / ms / 1e6).toFixed(2)), msPerCall: Number(ms.toFixed(2)), iters,
              };
              out.push(line);
              emit(line);
            }
          }
        }
      }
      // Leave each backend with its default kernel (BLAS when loaded).
      if (tf.findBackend(backend)) registerSaeKernels(backend);
    }
  } finally {
    await tf.setBackend(initial);
    registerSaeKernels(initial);
  }
  return out;
}
