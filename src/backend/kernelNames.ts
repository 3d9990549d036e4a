/** Kernel names owned by sae-rx (registered per backend in register.ts). */
export const SaeMatMul = 'SaeMatMul';
export type SaeMatMulAttrs = { transposeA: boolean; transposeB: boolean };
