/** Kernel names owned by sae-rx (registered per backend in register.ts). */
export const SaeMatMul = 'SaeMatMul';
export type SaeMatMulAttrs = { transposeA: boolean; transposeB: boolean };
/** Sparse kernels (kernels/sparseKernels.ts), registered only where the BLAS addon loads. */
export const SaeCsrCount = 'SaeCsrCount';
export const SaeCsrFill = 'SaeCsrFill';
export const SaeSpmm = 'SaeSpmm';
export const SaeSpmmT = 'SaeSpmmT';
export const SaeSddmm = 'SaeSddmm';
export const SaeTranspose2D = 'SaeTranspose2D';
/** Fused Adam step (kernels/adamKernel.ts), registered for wasm/cpu where the addon has it; inputs param, m, v, grad. */
export const SaeAdamUpdate = 'SaeAdamUpdate';
export type SaeAdamUpdateAttrs = { beta1: number; beta2: number; eps: number; lr: number; step: number };
/** relu gradient from the relu's output (kernels/reluGradKernel.ts); inputs dy, y. */
export const SaeReluGrad = 'SaeReluGrad';
/** Forward-only transformer kernels (kernels/modelKernels.ts): gelu_new (x) and causal attention (q, k, v; scale). */
export const SaeGeluNew = 'SaeGeluNew';
export const SaeCausalAttention = 'SaeCausalAttention';
/** LayerNormPre / RMSNorm without the affine (kernels/modelKernels.ts): x; attrs eps, center → [normalized, scale]. */
export const SaeNormalize = 'SaeNormalize';
/**
 * The TopK-family step (kernels/topkKernels.ts, ops/topk.ts). SaeTopKSelect: inputs x, wEnc,
 * bEnc, scale, dead; attrs k, total, kAux, cap → rowPtr, colIdx, vals, auxCol, auxVal.
 * SaeSddmmCsr: inputs rowPtr, colIdx, a, w → [cap] (one dot product per stored entry).
 */
export const SaeTopKSelect = 'SaeTopKSelect';
export type SaeTopKSelectAttrs = { k: number; total: number; kAux: number; cap: number };
export const SaeSddmmCsr = 'SaeSddmmCsr';
