/** The model area's public API: HookedTransformer, its config and weights, tokenizers. */
export { HookedTransformer } from './HookedTransformer.js';
export { lossPerTokenFromLogits, logSumExpLastAxis } from './loss.js';
export type { HookFn, NameFilter, TokenInput, ModelRunOptions, ModelRunResult, FromFolderOptions } from './HookedTransformer.js';
export { configFromHf } from './ModelConfig.js';
export type { HookedTransformerConfig, ModelFamily, ActivationName, NormalizationType } from './ModelConfig.js';
export { weightsFromHf, disposeWeights, weightTensors } from './weights.js';
export type { ModelWeights, BlockWeights, TensorSource } from './weights.js';
export { processWeights as processModelWeights } from './processWeights.js';
export type { WeightProcessingOptions } from './processWeights.js';
export { loadModelFolder, modelWeightFiles, readModelConfig } from './loadModel.js';
export { hookShapesFor } from './hookPoints.js';
export { rotaryTables, applyRotary } from './rotary.js';
export { HfTokenizer, Llama2cTokenizer, loadTokenizer } from './tokenizer.js';
export type { TextTokenizer, TokenizerEncodeOptions, TokenizerDecodeOptions } from './tokenizer.js';
