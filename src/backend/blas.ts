/**
 * The optional OpenBLAS addon (native/sae_rx_blas.cc, built by native/build.mjs into
 * build/Release/sae_rx_blas.node). Loaded lazily, once; absent or disabled (SAE_RX_BLAS=0)
 * it is simply not used and blasStatus() says why.
 */
import { platform } from '../platform/index.js';

/** What the addon exports (native/sae_rx_blas.cc). */
export interface BlasAddon {
  /**
   * For each batch entry i: C_i = op(A_i) op(B_i), row-major float32, C_i [m×n], where A_i starts
   * at a[aOffsets[i]] (k×m when transA, else m×k) and B_i at b[bOffsets[i]] (n×k when transB,
   * else k×n). Offsets are in elements; the addon checks every matrix lies inside its array.
   */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    a: Float32Array, b: Float32Array, c: Float32Array,
    aOffsets: Float64Array, bOffsets: Float64Array, cOffsets: Float64Array,
  ): void;
  /** rowPtr [rows+1] ← prefix counts of the nonzeros of a [rows×cols]; returns nnz. */
  csrCount(a: Float32Array, rows: number, cols: number, rowPtr: Int32Array): number;
  /** colIdx, vals [nnz] ← the nonzeros of a, row by row (rowPtr from csrCount). */
  csrFill(a: Float32Array, rows: number, cols: number, rowPtr: Int32Array, colIdx: Int32Array, vals: Float32Array): void;
  /** out [rows×n] = A·w for the CSR matrix A [rows×k], w [k×n]. */
  spmm(rowPtr: Int32Array, colIdx: Int32Array, vals: Float32Array, rows: number, k: number, w: Float32Array, n: number, out: Float32Array): void;
  /** out [k×n] = Aᵀ·x for the CSR matrix A [rows×k], x [rows×n]. */
  spmmT(rowPtr: Int32Array, colIdx: Int32Array, vals: Float32Array, rows: number, k: number, x: Float32Array, n: number, out: Float32Array): void;
  /** out [rows×k] = (a·wᵀ) at A's nonzero pattern, 0 elsewhere; a [rows×n], w [k×n]. */
  sddmm(rowPtr: Int32Array, colIdx: Int32Array, rows: number, k: number, a: Float32Array, w: Float32Array, n: number, out: Float32Array): void;
  /** dst [cols×rows] = srcᵀ. */
  transpose(src: Float32Array, rows: number, cols: number, dst: Float32Array): void;
  /**
   * Fused Adam step over equal-length arrays (kernels/adamKernel.ts): pOut, mOut, vOut ← the
   * update of p, m, v by g, with float32 scalars β1, 1−β1, β2, 1−β2, √(1−β2^t), eps,
   * −lr/(1−β1^t). Absent in addons built before it (then the tfjs ops run).
   */
  adam?(
    p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array,
    pOut: Float32Array, mOut: Float32Array, vOut: Float32Array,
    beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number,
    sqrtBc2: number, eps: number, negStepSize: number,
  ): void;
  /** out = y > 0 ? dy : 0, elementwise over equal-length arrays (kernels/reluGradKernel.ts). */
  reluGrad(dy: Float32Array, y: Float32Array, out: Float32Array): void;
  /** out = gelu_new(x) elementwise (native/model_kernels.cc). */
  geluNew(x: Float32Array, out: Float32Array): void;
  /** z [B,P,H,dh] = causal softmax(q·kᵀ·scale)·v; k, v [B,P,K,dh] (native/model_kernels.cc). */
  causalAttention(q: Float32Array, k: Float32Array, v: Float32Array, z: Float32Array, B: number, P: number, H: number, K: number, dh: number, scale: number): void;
  /** Rows of d floats of x normalized into out (minus the row mean when center), scales into scale (native/model_kernels.cc). */
  normalize(x: Float32Array, out: Float32Array, scale: Float32Array, d: number, eps: number, center: boolean): void;
  /**
   * The TopK-family step's selection (native/topk_kernels.cc): x·W_enc + b_enc in row chunks,
   * and per row the kept latents as CSR (rowPtr, colIdx, vals = pre-activations), the k largest
   * positive scores (pre·scale; scale empty = 1) or, with total > 0, the batch's `total`
   * largest; plus the kAux largest scores among the `dead` latents into auxCol/auxVal
   * [rows×kAux]. Returns nnz. Absent in addons built before it.
   */
  topkSelect?(
    x: Float32Array, wEnc: Float32Array, bEnc: Float32Array, scale: Float32Array, rows: number, dIn: number, dSae: number,
    k: number, total: number, dead: Int32Array, kAux: number,
    rowPtr: Int32Array, colIdx: Int32Array, vals: Float32Array, auxCol: Int32Array, auxVal: Float32Array,
  ): number;
  /** out[q] = ⟨a[r], w[colIdx[q]]⟩ for the CSR entries q of row r; a [rows×n], w [k×n] (native/topk_kernels.cc). */
  sddmmCsr?(rowPtr: Int32Array, colIdx: Int32Array, rows: number, k: number, a: Float32Array, w: Float32Array, n: number, out: Float32Array): void;
  setNumThreads(n: number): void;
  numThreads(): number;
  /** OpenBLAS's build string (version, target core, max threads). */
  config(): string;
  readonly abiVersion: number;
}

export interface BlasStatus {
  readonly loaded: boolean;
  /** Why it is not loaded, or where it was loaded from. */
  readonly reason: string;
  readonly threads?: number;
  readonly config?: string;
}

const ABI_VERSION = 4;

let loaded: { addon: BlasAddon | null; status: BlasStatus } | undefined;

function load(): { addon: BlasAddon | null; status: BlasStatus } {
  if (platform.env('SAE_RX_BLAS') === '0') return { addon: null, status: { loaded: false, reason: 'disabled by SAE_RX_BLAS=0' } };
  // The platform loads it (Node: build/Release/sae_rx_blas.node); a page never has it.
  const found = platform.loadNativeAddon('sae_rx_blas');
  if (!found.loaded) {
    const hint = platform.kind === 'node' && found.reason.startsWith('addon not built') ? ' (npm run build:native; needs libopenblas-dev)' : '';
    return { addon: null, status: { loaded: false, reason: found.reason + hint } };
  }
  try {
    const addon = found.addon as BlasAddon;
    if (addon.abiVersion !== ABI_VERSION) {
      return { addon: null, status: { loaded: false, reason: `addon is stale (abi ${addon.abiVersion}, want ${ABI_VERSION}): npm run build:native` } };
    }
    const want = platform.env('SAE_RX_BLAS_THREADS');
    if (want !== undefined && want !== '') {
      const n = Number(want);
      if (!(Number.isInteger(n) && n >= 1)) throw new Error(`SAE_RX_BLAS_THREADS: '${want}' is not a positive integer`);
      addon.setNumThreads(n);
    }
    return { addon, status: { loaded: true, reason: `loaded ${found.from}`, threads: addon.numThreads(), config: addon.config() } };
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);
    return { addon: null, status: { loaded: false, reason: `addon failed to load (${msg})` } };
  }
}

/** The addon, or null when it is not built, fails to load, or SAE_RX_BLAS=0. */
export function blasAddon(): BlasAddon | null {
  loaded ??= load();
  return loaded.addon;
}

/** Whether the addon is usable, and why not. */
export function blasStatus(): BlasStatus {
  loaded ??= load();
  return loaded.status;
}
