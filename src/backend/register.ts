/**
 * The one module with kernel-registry side effects (STYLE.md §2). Per backend it registers:
 * - `SaeMatMul` (our own kernel name, see ops/saeMatMul.ts) and its gradient;
 * - on wasm and cpu, a block-copy `GatherV2` (kernels/rowGather.ts), addon or not;
 * - on wasm, an `Identity` that shares its input's buffer (kernels/sharedIdentity.ts) and a
 *   `Slice` that copies only the slice (kernels/viewSlice.ts);
 * - with the BLAS addon loaded and the backend wasm or cpu: OpenBLAS as `BatchMatMul`, so that
 *   plain `tf.matMul` and tfjs's own matMul gradient use it too. The stock kernel is kept and
 *   still runs non-float32 inputs; `setMatMulKernel(backend, 'stock')` puts it back;
 * - with the addon: the sparse SAE-step kernels, the TopK-family step's kernels, the fused Adam step, the relu gradient
 *   (`SaeReluGrad`) and the model forward's fused gelu_new and causal attention.
 * Called by selectBackend(), and lazily by saeMatMul() on a backend not yet set up.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from '../errors.js';
import './tfGradients.js';
import { blasAddon, blasStatus } from './blas.js';
import { saeMatMulGradConfig } from './gradients/SaeMatMul_grad.js';
import { BLAS_BACKENDS, makeBlasBatchMatMul, type BlasBackendKind } from './kernels/blasBatchMatMul.js';
import { makeStockSaeMatMul } from './kernels/stockSaeMatMul.js';
import { makeAdamKernel } from './kernels/adamKernel.js';
import { makeSparseKernels } from './kernels/sparseKernels.js';
import { makeTopkKernels } from './kernels/topkKernels.js';
import { makeRowGather } from './kernels/rowGather.js';
import { makeReluGradKernel } from './kernels/reluGradKernel.js';
import { makeModelKernels } from './kernels/modelKernels.js';
import { makeSharedIdentity } from './kernels/sharedIdentity.js';
import { makeViewSlice } from './kernels/viewSlice.js';
import { SaeMatMul } from './kernelNames.js';

/** Which implementation runs `tf.matMul` (BatchMatMul) and `saeMatMul` on a backend. */
export interface MatMulKernelState {
  /** `blas`: OpenBLAS sgemm through the addon; `stock`: the backend's own kernel. */
  readonly matMul: 'blas' | 'stock';
  /** `explicit-transpose`: stock wasm kernel fed untransposed operands (see kernels/). */
  readonly saeMatMul: 'blas' | 'explicit-transpose' | 'stock';
  /** Why BLAS is or is not used on this backend. */
  readonly reason: string;
}

/**
 * Checks that tfjs's gradients are registered (tfGradients.ts imports the `@tensorflow/tfjs`
 * bundle that registers them; tfjs-core's own ESM build cannot be imported by plain Node).
 * They are missing only when two copies of tfjs-core are installed: the bundle then registered
 * into the other one, and tf.grads on any stock op would fail with "gradient function not found".
 */
export function checkTfGradients(): void {
  if (!tf.getGradient(tf.Sum) || !tf.getGradient(tf.BatchMatMul)) {
    throw new BackendError('@tensorflow/tfjs loaded but its gradients are not in this tfjs-core (two copies of @tensorflow/tfjs-core installed? run npm dedupe)');
  }
}

/** Each backend's own kernels, by `${name}/${backend}`, as first seen here (before any replacement of ours). */
const stockKernels = new Map<string, tf.KernelConfig>();

function firstKernel(name: string, backend: string): tf.KernelConfig | undefined {
  const key = `${name}/${backend}`;
  let k = stockKernels.get(key);
  if (!k) {
    k = tf.getKernel(name, backend);
    if (k) stockKernels.set(key, k);
  }
  return k;
}

const states = new Map<string, MatMulKernelState>();

function replaceKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName)) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

function stockOf(backend: string): tf.KernelConfig {
  const base = firstKernel(tf.BatchMatMul, backend);
  if (!base) throw new BackendError(`backend '${backend}' has no BatchMatMul kernel to build SaeMatMul on`);
  return base;
}

/**
 * Registers SaeMatMul (+ gradient) for `backend`, with BLAS when the addon is available
 * and the backend is wasm or cpu. Idempotent.
 */
export function registerSaeKernels(backend: string): MatMulKernelState {
  const canBlas = (BLAS_BACKENDS as readonly string[]).includes(backend);
  const addon = blasAddon();
  const kind = canBlas && addon ? 'blas' : 'stock';
  if (canBlas && addon) {
    // The sparse kernels (SAE step) need the addon and in-place access; elsewhere the sparse
    // ops in ops/sparse.ts fall back to dense tfjs products.
    for (const k of makeSparseKernels(addon, backend as BlasBackendKind)) replaceKernel(k);
    // The TopK-family step's selection and compact sddmm (src/sae/topkSparse.ts).
    for (const k of makeTopkKernels(addon, backend as BlasBackendKind)) replaceKernel(k);
    // The fused Adam step (src/train/Adam.ts runs tfjs ops where it is not registered).
    const adam = makeAdamKernel(addon, backend as BlasBackendKind);
    if (adam) replaceKernel(adam);
    replaceKernel(makeReluGradKernel(addon, backend as BlasBackendKind));
    for (const k of makeModelKernels(addon, backend as BlasBackendKind)) replaceKernel(k);
  }
  // Block-copy GatherV2 (pure JS, no addon needed): the embedding lookup of the model forward.
  const stockGather = canBlas ? firstKernel(tf.GatherV2, backend) : undefined;
  if (stockGather) replaceKernel(makeRowGather(backend as BlasBackendKind, stockGather));
  // Zero-copy Identity on wasm (kernels/sharedIdentity.ts): gradient saves stop copying.
  const stockIdentity = backend === 'wasm' ? firstKernel(tf.Identity, backend) : undefined;
  if (stockIdentity) replaceKernel(makeSharedIdentity(stockIdentity));
  // Slice that copies only the slice on wasm (kernels/viewSlice.ts; the stock one copies its input).
  const stockSlice = backend === 'wasm' ? firstKernel(tf.Slice, backend) : undefined;
  if (stockSlice) replaceKernel(makeViewSlice(stockSlice));
  return setMatMulKernel(backend, kind);
}

/** registerSaeKernels(backend) unless it already ran for it. */
export function ensureSaeKernels(backend: string): void {
  if (!states.has(backend) || !tf.getKernel(SaeMatMul, backend)) registerSaeKernels(backend);
}

/** Whether kernel `name` runs on the current backend, once our kernels are registered there. */
export function hasSaeKernel(name: string): boolean {
  const b = tf.getBackend();
  ensureSaeKernels(b);
  return tf.getKernel(name, b) !== undefined;
}

/**
 * Switches `backend`'s BatchMatMul and SaeMatMul between OpenBLAS and the stock kernel (for
 * benchmarks and tests that compare the two). Throws BackendError if `blas` is asked where the
 * addon is not loaded or the backend is not wasm/cpu.
 */
export function setMatMulKernel(backend: string, kind: 'blas' | 'stock'): MatMulKernelState {
  if (!tf.getGradient(SaeMatMul)) tf.registerGradient(saeMatMulGradConfig);
  const stock = stockOf(backend);
  let state: MatMulKernelState;
  if (kind === 'blas') {
    const addon = blasAddon();
    if (!addon) throw new BackendError(`BLAS matMul kernel unavailable: ${blasStatus().reason}`);
    if (!(BLAS_BACKENDS as readonly string[]).includes(backend)) {
      throw new BackendError(`BLAS matMul kernel: backend '${backend}' is not one of ${BLAS_BACKENDS.join(', ')}`);
    }
    const kernelFunc = makeBlasBatchMatMul(addon, backend as BlasBackendKind, stock.kernelFunc);
    replaceKernel({ kernelName: tf.BatchMatMul, backendName: backend, kernelFunc });
    replaceKernel({ kernelName: SaeMatMul, backendName: backend, kernelFunc });
    const s = blasStatus();
    state = { matMul: 'blas', saeMatMul: 'blas', reason: `OpenBLAS, ${s.threads} thread(s) (${s.config})` };
  } else {
    replaceKernel(stock);
    const transpose = tf.getKernel(tf.Transpose, backend);
    const tile = tf.getKernel(tf.Tile, backend);
    if (!tile) throw new BackendError(`backend '${backend}' has no Tile kernel to build SaeMatMul on`);
    const explicit = backend === 'wasm' && transpose !== undefined;
    replaceKernel({
      kernelName: SaeMatMul,
      backendName: backend,
      kernelFunc: makeStockSaeMatMul({
        stock: stock.kernelFunc,
        tile: tile.kernelFunc,
        ...(explicit ? { transpose: transpose.kernelFunc } : {}),
      }),
    });
    const why = !(BLAS_BACKENDS as readonly string[]).includes(backend) ? `no BLAS kernel for backend '${backend}'` : blasAddon() ? 'stock kernel chosen' : blasStatus().reason;
    state = { matMul: 'stock', saeMatMul: explicit ? 'explicit-transpose' : 'stock', reason: why };
  }
  states.set(backend, state);
  return state;
}

/** The backend's own kernel `name` that registerSaeKernels replaced (BatchMatMul, GatherV2, Identity, Slice), if any. */
export function stockKernelOf(name: string, backend: string): tf.KernelConfig | undefined {
  return stockKernels.get(`${name}/${backend}`);
}

/** What setMatMulKernel/registerSaeKernels last did for `backend`, if anything. */
export function matMulKernelState(backend: string): MatMulKernelState | undefined {
  return states.get(backend);
}
