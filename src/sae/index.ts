export {
  type ActivationFn, type BDecInitMethod, type MseLossNormalization, type SaeConfig, DEFAULT_SAE_CONFIG,
} from './SaeConfig.js';
export {
  activation, encodePre, decodeWith, validateConfig, SaeSnapshot, SaeParamArrays, type SaeWeights,
  type StandardSaeWeights, type NamedSaeWeights, type SaeForward, type SaeParams, SAE_HOOK_NAMES, type SaeHookName, Sae,
} from './Sae.js';
export type {
  Architecture, ArchState, Coefficient, InferenceForward, InferenceSave, ParamSpec, ParamTensors, TrainerSettings,
  TrainingForwardOutput, TrainingStepInput, WeightTensor,
} from './architectures/Architecture.js';
export { ARCHITECTURES, architectureNames, architectureOf, hasArchitecture, checkUniqueNames } from './architectures/registry.js';
export { mm, colSum, stopGradient, lpNorm, rowNorms, gatherRows, gatherCols } from './ops.js';
export { kaimingUniform, unitRows, orthogonal, initialWeights, type InitialWeights } from './init.js';
export {
  perItemMse, sparsityTerm, ghostGradLoss, saeLosses, type LossOptions, type LossTerms,
} from './losses.js';
export { geometricMedian, type GeometricMedianResult } from './geometricMedian.js';
export { saeConfigToCfgJson, saeConfigFromCfgJson } from './cfgJson.js';
export {
  logFeatureSparsity, writeSaeFolder, loadSaeSparsity, loadSae, SAE_CFG_PATH, SAE_WEIGHTS_PATH,
  SPARSITY_PATH, type WriteSaeFolderOptions,
} from './saeFolder.js';
export { sparseDecodeMm, sparseGradEncode, encodeConstantInput } from './sparse.js';
export {
  parseRegistry, readRegistryFile, bundledRegistry, pretrainedRegistry, findRelease, findSae, BUNDLED_REGISTRY_PATH,
  REGISTRY_ENV, type PretrainedSaeEntry, type PretrainedRelease, type PretrainedRegistry, type RegistryOptions,
  fromPretrained, resolvePretrained, downloadSaeFolder, foldNormScalingFactor, SUPPORTED_PRETRAINED_LOADERS,
  type PretrainedTarget, type FromPretrainedOptions, type PretrainedSae,
} from './pretrained/index.js';
