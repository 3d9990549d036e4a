/**
 * The public API of sae-rx. Everything a user may import is re-exported here by name; nothing
 * else is public. Each area keeps its exports in its own section. Names, not `export *`
 * (`npm run depcheck` refuses it): helpers and module-level switches (the matMul and sparse-step
 * choices of the benchmarks) stay internal to their folder.
 */
export {
  SaeRxError, ConfigError, FileFormatError, ShapeError, BackendError, HubError, StageError,
} from './errors.js';

// --- stream ---
export {
  type ActivationBatch, type TokenBatch, type Document, type CheckpointRecord, type DoneRecord,
  type EvalRecord, type Histogram, type StepRecord, type TrainEvent, type WarningRecord, Rng, seededRandom,
  seededShuffle,
} from './stream/index.js';

// --- backend ---
export {
  selectBackend, backendInfo, BACKEND_PREFERENCE, type BackendName, type BackendChoice, type BackendInfo,
  saeMatMul, blasStatus, type BlasStatus,
} from './backend/index.js';

// --- io ---
export {
  dtypeSize, isSafetensorsDtype, decodeSafetensors, loadSafetensors, encodeSafetensors, writeSafetensors,
  type SafetensorsDtype, type SafetensorsInfo, type SafetensorsTypedArray, type RawTensor,
  type TensorInput, DecodedSafetensors, SafetensorsFile,
} from './io/safetensors.js';
export { withAtomicFile, writeFileAtomic, writeDirAtomic } from './io/atomicWrite.js';
export {
  type Folder, type NamedBlob, diskFolder, urlFolder, fileFolder, memoryFolder, bytesFile, folderJson, folderText,
} from './io/folder.js';
export { hubFolder, type HubFolderOptions } from './hub/hubFolder.js';
export { loadSaeFrom, type LoadSaeOptions } from './sae/saeFolderLoad.js';
export { loadModelFrom } from './model/loadModel.js';
export { loadTokenizerFrom } from './model/tokenizer.js';
export { DOCUMENT_COLUMNS, type ParquetInput, type ParquetRowGroupInfo, ParquetFile } from './io/parquet.js';

// --- config ---
export {
  type ConfigProblem, type FieldSpec, type FieldTable, RunnerConfigError, ACTIVATION_FNS,
  B_DEC_INIT_METHODS, FINETUNING_METHODS, LANGUAGE_MODEL_DERIVED_KEYS, LANGUAGE_MODEL_FIELDS,
  LR_SCHEDULER_NAMES, MODEL_CLASS_NAMES, NORMALIZE_ACTIVATIONS, SAE_LENS_VERSION, SWEEP_FIELDS,
  type DecodeOptions, type LanguageModelSaeRunnerConfig, type Sweep, defaultCachedActivationsPath,
  defaultRunName, generateRunId, decodeCacheActivationsRunnerConfig, type CacheActivationsRunnerConfig,
  CACHE_ACTIVATIONS_FIELDS, decodeToyModelRunnerConfig, type ToyModelRunnerConfig, TOY_MODEL_FIELDS,
  decodeLanguageModelSaeRunnerConfig, decodeRunnerConfig, encodeRunnerConfig, type RunnerKind,
  type RunnerConfigs, LanguageModelSaeRunnerConfigCodec, CacheActivationsRunnerConfigCodec,
  ToyModelRunnerConfigCodec, type SingleLanguageModelSaeRunnerConfig, expandSweep, isSweep, applyOverrides,
  loadConfigFile, parseConfigText, REDACTED, isSecretKey, redactSecrets, redactString,
} from './config/index.js';

// --- sae ---
export {
  type ActivationFn, type BDecInitMethod, type MseLossNormalization, type SaeConfig, DEFAULT_SAE_CONFIG,
  validateConfig, type SaeSnapshot, type SaeWeights, type SaeForward, type SaeParams, SAE_HOOK_NAMES,
  type SaeHookName, Sae, kaimingUniform, unitRows, orthogonal, initialWeights, type InitialWeights,
  perItemMse, sparsityTerm, ghostGradLoss, saeLosses, type LossOptions, type LossTerms, geometricMedian,
  type GeometricMedianResult, saeConfigToCfgJson, saeConfigFromCfgJson, logFeatureSparsity, writeSaeFolder,
  loadSaeSparsity, loadSae, SAE_CFG_PATH, SAE_WEIGHTS_PATH, SPARSITY_PATH, type WriteSaeFolderOptions,
  parseRegistry, readRegistryFile, bundledRegistry, pretrainedRegistry, findRelease, findSae, BUNDLED_REGISTRY_PATH,
  REGISTRY_ENV, type PretrainedSaeEntry, type PretrainedRelease, type PretrainedRegistry, type RegistryOptions,
  fromPretrained, resolvePretrained, downloadSaeFolder, foldNormScalingFactor, SUPPORTED_PRETRAINED_LOADERS,
  type PretrainedTarget, type FromPretrainedOptions, type PretrainedSae,
} from './sae/index.js';

// --- train ---
export {
  type LrSchedulerName, type FinetuningMethod, type TrainerConfig, DEFAULT_TRAINER_CONFIG,
  type AdamParamState, type AdamState, Adam, l1CoefficientAt, type LrScheduleParams, LrSchedule,
  validateTrainerConfig, type StepMetrics, type TrainerState, type SaeTrainerOptions, SaeTrainer,
} from './train/index.js';
export {
  inspectCheckpoint, findLatestCheckpoint, dataPosition, CHECKPOINT_FILES, type FoundCheckpoint,
  type DataPosition,
} from './train/resume.js';

// --- model ---
export {
  HookedTransformer, lossPerTokenFromLogits, type HookFn, type NameFilter, type TokenInput,
  type ModelRunOptions, type ModelRunResult, type FromFolderOptions, configFromHf,
  type HookedTransformerConfig, type ModelFamily, type ActivationName, type NormalizationType,
  weightsFromHf, disposeWeights, weightTensors, type ModelWeights, type BlockWeights, type TensorSource,
  processModelWeights, type WeightProcessingOptions, loadModelFolder, modelWeightFiles, readModelConfig,
  hookShapesFor, HfTokenizer, Llama2cTokenizer, loadTokenizer, type TextTokenizer,
  type TokenizerEncodeOptions, type TokenizerDecodeOptions,
} from './model/index.js';

// --- hub ---
export {
  hubConfig, hubToken, redactSecret, toHubConfig, type HubConfig, cachedCommit, cachedFile,
  listCachedSnapshot, type CachedEntry, type HubRepoType, downloadHubFile, hubFileExists, listHubFiles,
  openHubFileRange, type HubRangeFile, resolveHubRevision, type HubFileEntry, type HubFileRef,
  type HubRepoRef,
} from './hub/index.js';

// --- sources ---
export { parquetDocuments } from './sources/documents.js';
export { fileDocuments, localDocuments, type LocalDocumentsOptions } from './sources/localDocuments.js';
export { hfDataset, type HfDatasetOptions } from './sources/hfDataset.js';
export { fromPull } from './sources/fromPull.js';
export {
  fromActivations, type ActivationData, type FromActivationsOptions,
} from './sources/fromActivations.js';
export {
  toyModel, toyFeatures, toyHidden, trainToyModel, trainToyModelAsync, toyFeatureRecovery, type ToyModelConfig,
  DEFAULT_TOY_MODEL_CONFIG, type ToyModel, type TrainToyModelOptions, type FeatureRecovery,
} from './sources/toyModel.js';
export { toyActivations, type ToyActivationsOptions } from './sources/toyActivations.js';
export {
  readCacheManifest, checkCacheManifest, cachedActivations, CACHE_MANIFEST, CACHE_TENSOR, CACHE_FORMAT,
  type CacheManifest, type CacheExpectation, type CachedActivationsOptions,
} from './sources/cachedActivations.js';

// --- operators ---
export { batch, type BatchOptions } from './operators/batch.js';
export { shuffle } from './operators/shuffle.js';
export { mixingBuffer, type MixingBufferOptions } from './operators/mixingBuffer.js';
export {
  normalizeActivations, type NormalizeMethod, type NormalizeOptions,
} from './operators/normalizeActivations.js';
export { trainSae, type TrainSaeSpec, type TrainSaeOptions, TrainSaeHandle } from './operators/trainSae.js';
export {
  documentTokens, packContext, type PackContextOptions, ContextPacker,
} from './operators/packContext.js';
export { modelActivations, type ModelActivationsOptions } from './operators/modelActivations.js';
export { evaluate, type LiveSae, type EvaluateOptions } from './operators/evaluate.js';

// --- sinks ---
export { sinks, sinksWith, type SinksOptions } from './sinks/sinks.js';
export { consoleSink, type ConsoleSinkOptions } from './sinks/consoleSink.js';
export { jsonlSink, type JsonlSinkOptions } from './sinks/jsonlSink.js';
export {
  wandbSink, wandbOptionsFromRunnerConfig, type WandbClock, type WandbRetryOptions, type WandbSinkOptions,
  type WandbSinkStats, type WandbSink,
} from './sinks/wandb.js';
export {
  renderReport, type ReportInput, type FeatureLogDensity, reportSink, type ReportSink,
  type ReportSinkOptions, writeReport, readRecords, type WriteReportOptions,
} from './sinks/report/index.js';
export { renderDashboards, type RenderDashboardsOptions } from './sinks/dashboard/index.js';

// --- analysis ---
export {
  logDensityHistogram, featureDensity, LOG_DENSITY_EPS, type FeatureDensity, type DensityOptions,
  FeatureDensityAccumulator, topActivations, type ActivationExample, type FeatureTopActivations,
  type TopActivationsOptions, TopActivationsAccumulator, cleanTokenString, logitWeights, neuronpediaExport,
  neuronpediaSkippedIndexes, DEFAULT_SPARSITY_THRESHOLD, type FeatureLogits, type NeuronpediaActivation,
  type NeuronpediaFeature, type NeuronpediaBatch, type NeuronpediaExportInput, OUT_OF_RANGE_TOKEN, npRound3,
  saeVisFeatureData, saeVisHistogram, linspace32, type SaeVisInputs, type SaeVisOptions, type SaeVisFeature,
  type SaeVisGroup, type SaeVisSequence, type SaeVisHistogram, runNeuronpedia, arraySplit,
  type NeuronpediaRunOptions, histogram, runEvals,
  type EvalTokens, type RunEvalsOptions, type EvalResult, featureProperties, decoderLogitProjection,
  logitWeightStats, type SaeWeightsView, type FeatureProperties, DEAD_LOG_DENSITY, type LogitWeightStats,
  type LogitWeightOptions, featureDashboards, FeatureDashboardBuilder, chosenFeatureActs, nearestByDecoder,
  type DashboardData, type DashboardExample, type DashboardInterval, type FeatureDashboard,
  type FeatureDashboardOptions, type FeatureDashboardRun, type TokenValue,
  readTokenizerVocab, pythonMatchRegExp, regexTokenSets, letterTokenSets, posTokenSets, nameTokenSets,
  wordListTokenSets, mergeTokenSets, SAELENS_REGEX_SETS, type Vocab, type TokenSets, SAELENS_WORD_LISTS,
  enrichmentScores, enrichmentScoresFromRows, enrichmentToLogScale, topFeaturesForSet, type EnrichmentScores,
  manhattanPlotSvg, featureProjectionsSvg, type ManhattanPlotOptions, type ProjectionPlotInput,
} from './analysis/index.js';

// --- runners ---
export { type SaeRunSummary, type RunSummary, type RunOptions, type Runner } from './runners/trainingRun.js';
export { languageModelRunner, type LanguageModelRunnerOptions } from './runners/languageModelRunner.js';
export {
  toyModelRunner, type ToyModelRunnerOptions, type ToyRunSummary, type ToyRunner,
} from './runners/toyModelRunner.js';
export {
  cacheDiskBytes, cacheActivationsRunner, runCacheActivations, type CacheRunnerSettings,
  type CacheActivationsRunnerOptions, type CacheActivationsSummary, type RunCacheActivationsOptions,
} from './runners/cacheActivationsRunner.js';
export { toSaeConfig, toTrainerConfig } from './runners/configMapping.js';
export {
  loadSession, type SessionSaeSpec, type LoadSessionOptions, type SessionSae, type SessionSettings, type Session,
} from './runners/sessionLoader.js';
