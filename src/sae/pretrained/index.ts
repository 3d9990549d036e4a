export {
  parseRegistry, readRegistryFile, bundledRegistry, pretrainedRegistry, findRelease, findSae, BUNDLED_REGISTRY_PATH,
  REGISTRY_ENV, type PretrainedSaeEntry, type PretrainedRelease, type PretrainedRegistry, type RegistryOptions,
} from './registry.js';
export {
  fromPretrained, resolvePretrained, downloadSaeFolder, foldNormScalingFactor, SUPPORTED_PRETRAINED_LOADERS,
  type PretrainedTarget, type FromPretrainedOptions, type PretrainedSae,
} from './fromPretrained.js';
