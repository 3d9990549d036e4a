export * from './selectBackend.js';
export { saeMatMul } from './ops/saeMatMul.js';
export { SaeMatMul } from './kernelNames.js';
export { setMatMulKernel, matMulKernelState, type MatMulKernelState } from './register.js';
export { blasStatus, type BlasStatus } from './blas.js';
