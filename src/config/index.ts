/** Runner configs: SAELens v1.5.0's snake_case configs as io-ts codecs, sweeps, mapping, files. */
export {
  type ConfigProblem, type FieldSpec, type FieldTable, RunnerConfigError, closestKey, levenshtein,
} from './fields.js';
export {
  ACTIVATION_FNS, B_DEC_INIT_METHODS, FINETUNING_METHODS, LANGUAGE_MODEL_DERIVED_KEYS, LANGUAGE_MODEL_FIELDS,
  LR_SCHEDULER_NAMES, MODEL_CLASS_NAMES, NORMALIZE_ACTIVATIONS, SAE_LENS_VERSION, SWEEP_FIELDS, type DecodeOptions,
  type LanguageModelSaeRunnerConfig, type Sweep, defaultCachedActivationsPath, defaultRunName, generateRunId,
} from './languageModelRunnerConfig.js';
export {
  decodeCacheActivationsRunnerConfig, type CacheActivationsRunnerConfig, CACHE_ACTIVATIONS_FIELDS,
} from './cacheActivationsRunnerConfig.js';
export {
  decodeToyModelRunnerConfig, type ToyModelRunnerConfig, TOY_MODEL_FIELDS,
} from './toyModelRunnerConfig.js';
export {
  decodeLanguageModelSaeRunnerConfig, decodeRunnerConfig, encodeRunnerConfig, type RunnerKind,
  type RunnerConfigs, LanguageModelSaeRunnerConfigCodec, CacheActivationsRunnerConfigCodec,
  ToyModelRunnerConfigCodec,
} from './runnerConfig.js';
export { type SingleLanguageModelSaeRunnerConfig, expandSweep, isSweep } from './sweep.js';
export { applyOverrides, loadConfigFile, parseConfigText } from './files.js';
export { REDACTED, isSecretKey, redactSecrets, redactString } from './secrets.js';
