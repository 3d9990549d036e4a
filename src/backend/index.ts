export {
  selectBackend, backendInfo, BACKEND_PREFERENCE, type BackendName, type BackendChoice, type BackendInfo,
} from './selectBackend.js';
export { saeMatMul } from './ops/saeMatMul.js';
export { SaeMatMul } from './kernelNames.js';
export { matMulKernelState, type MatMulKernelState } from './register.js';
export { blasStatus, type BlasStatus } from './blas.js';
export { csrCount, csrFromDense, csrSpmm, csrSpmmT, csrSddmm, transpose2d, disposeCsr, sparseKernelsAvailable, type Csr } from './ops/sparse.js';
export { reluTrain, reluGradFromOutput } from './ops/reluTrain.js';
export { geluNew, fusedAttentionAvailable, fusedCausalAttention, fusedNormalize, fusedNormalizeAvailable } from './ops/modelOps.js';
export { topkSelect, disposeSelection, csrGatherSum, csrScatterT, csrSampledDot, topkKernelsAvailable, type CsrIndex, type TopKSelection, type TopKSelectOptions } from './ops/topk.js';
