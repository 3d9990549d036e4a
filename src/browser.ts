/**
 * The browser entry of sae-rx (`npm run build:browser` bundles it into dist-browser/sae-rx.js).
 * The platform-independent parts of the public API, by name: what flows, the backend choice
 * (webgpu › webgl › wasm › cpu in a page), the safetensors codec over bytes, SAEs of every
 * architecture, the trainer, models and tokenizers, sources, operators, evals, analysis and the
 * in-page sinks, plus the page's folder loaders (URL, Hub over HTTP, dropped files).
 *
 * Node-only parts (files by path, the native addon, signals, the disk Hub cache, the CLI,
 * runners, the cluster) stay out: scripts/buildBrowser.mjs swaps the platform boundary
 * (src/platform/node.ts) for its browser twin, and test/browser/bundle.test.ts fails if a Node
 * built-in reaches the bundle. Nothing inside src/ imports this file.
 */
import * as tf from '@tensorflow/tfjs-core';

/** tfjs itself, the same instance sae-rx runs on (a page's own tfjs copy would not share its backend). */
export { tf };
export {
  SaeRxError, ConfigError, FileFormatError, ShapeError, BackendError, HubError, StageError,
} from './errors.js';
export { platform, type BackendName, type RandomAccessFile } from './platform/index.js';
export { setWasmBinariesUrl } from './platform/wasmBinaries.js';

// --- stream ---
export {
  type ActivationBatch, type TokenBatch, type Document, type CheckpointRecord, type DoneRecord,
  type EvalRecord, type Histogram, type StepRecord, type TrainEvent, type WarningRecord, Rng, seededRandom,
  seededShuffle,
} from './stream/index.js';

// --- backend ---
export {
  selectBackend, backendInfo, BACKEND_PREFERENCE, type BackendChoice, type BackendInfo,
} from './backend/selectBackend.js';
export { saeMatMul } from './backend/ops/saeMatMul.js';

// --- io: safetensors over bytes ---
export {
  type SafetensorsDtype, type SafetensorsInfo, type SafetensorsTypedArray, type RawTensor, type TensorInput,
  dtypeSize, isSafetensorsDtype,
} from './io/safetensors/dtypes.js';
export { DecodedSafetensors, decodeSafetensors } from './io/safetensors/memoryReader.js';
export { encodeSafetensors } from './io/safetensors/writer.js';
export { SafetensorsFile } from './io/safetensors/fileReader.js';

// --- loading in the page: folders from a URL, the Hub's HTTP endpoints, dropped files, memory ---
export {
  type Folder, type NamedBlob, urlFolder, fileFolder, memoryFolder, bytesFile, folderJson, folderText,
} from './io/folder.js';
export { hubFolder, type HubFolderOptions } from './hub/hubFolder.js';
export { hubConfig, type HubConfig } from './hub/config.js';
export { loadSaeFrom, type LoadSaeOptions } from './sae/saeFolderLoad.js';
export { loadModelFrom } from './model/loadModel.js';

// --- sae ---
export {
  type ActivationFn, type BDecInitMethod, type MseLossNormalization, type SaeConfig, DEFAULT_SAE_CONFIG,
} from './sae/SaeConfig.js';
export {
  validateConfig, type SaeSnapshot, type SaeWeights, type SaeForward, type SaeParams, SAE_HOOK_NAMES,
  type SaeHookName, Sae,
} from './sae/Sae.js';
export { ARCHITECTURES, architectureNames, architectureOf, hasArchitecture } from './sae/architectures/registry.js';
export { kaimingUniform, unitRows, orthogonal, initialWeights, type InitialWeights } from './sae/init.js';
export {
  perItemMse, sparsityTerm, ghostGradLoss, saeLosses, type LossOptions, type LossTerms,
} from './sae/losses.js';
export { geometricMedian, type GeometricMedianResult } from './sae/geometricMedian.js';
export { saeConfigToCfgJson, saeConfigFromCfgJson } from './sae/cfgJson.js';

// --- train ---
export {
  type LrSchedulerName, type FinetuningMethod, type TrainerConfig, DEFAULT_TRAINER_CONFIG,
} from './train/TrainerConfig.js';
export { type AdamParamState, type AdamState, Adam } from './train/Adam.js';
export { l1CoefficientAt, type LrScheduleParams, LrSchedule } from './train/schedules.js';
export {
  validateTrainerConfig, type StepMetrics, type TrainerState, type SaeTrainerOptions, SaeTrainer,
} from './train/SaeTrainer.js';

// --- model ---
export {
  HookedTransformer, type HookFn, type NameFilter, type TokenInput, type ModelRunOptions, type ModelRunResult,
  type FromFolderOptions,
} from './model/HookedTransformer.js';
export { lossPerTokenFromLogits } from './model/loss.js';
export {
  configFromHf, type HookedTransformerConfig, type ModelFamily, type ActivationName, type NormalizationType,
} from './model/ModelConfig.js';
export { weightsFromHf, disposeWeights, weightTensors, type ModelWeights, type BlockWeights, type TensorSource } from './model/weights.js';
export { hookShapesFor } from './model/hookPoints.js';
export {
  HfTokenizer, Llama2cTokenizer, loadTokenizerFrom, type TextTokenizer, type TokenizerEncodeOptions, type TokenizerDecodeOptions,
} from './model/tokenizer.js';

// --- sources ---
export { fromPull } from './sources/fromPull.js';
export { fromActivations, type ActivationData, type FromActivationsOptions } from './sources/fromActivations.js';
export {
  toyModel, toyFeatures, toyHidden, trainToyModel, trainToyModelAsync, toyFeatureRecovery, type ToyModelConfig,
  DEFAULT_TOY_MODEL_CONFIG, type ToyModel, type TrainToyModelOptions, type FeatureRecovery,
} from './sources/toyModel.js';
export { toyActivations, type ToyActivationsOptions } from './sources/toyActivations.js';

// --- operators ---
export { batch, type BatchOptions } from './operators/batch.js';
export { shuffle } from './operators/shuffle.js';
export { mixingBuffer, type MixingBufferOptions } from './operators/mixingBuffer.js';
export {
  normalizeActivations, type NormalizeMethod, type NormalizeOptions,
} from './operators/normalizeActivations.js';
export { trainSae, type TrainSaeSpec, type TrainSaeOptions, TrainSaeHandle } from './operators/trainSae.js';
export { documentTokens, packContext, type PackContextOptions, ContextPacker } from './operators/packContext.js';
export { modelActivations, type ModelActivationsOptions } from './operators/modelActivations.js';
export { evaluate, type LiveSae, type EvaluateOptions } from './operators/evaluate.js';

// --- sinks (in the page: records to HTML/SVG strings, no files) ---
export { sinks, sinksWith, type SinksOptions } from './sinks/sinks.js';
export { renderReport, type ReportInput, type FeatureLogDensity } from './sinks/report/renderReport.js';
export { lineChartSvg, histogramSvg } from './sinks/report/charts.js';
export { CHART_CSS } from './sinks/report/chartCss.js';
export { renderDashboards, type RenderDashboardsOptions } from './sinks/dashboard/renderDashboards.js';

// --- analysis ---
export {
  logDensityHistogram, featureDensity, LOG_DENSITY_EPS, type FeatureDensity, type DensityOptions,
  FeatureDensityAccumulator,
} from './analysis/featureDensity.js';
export {
  topActivations, type ActivationExample, type FeatureTopActivations, type TopActivationsOptions,
  TopActivationsAccumulator,
} from './analysis/topActivations.js';
export {
  histogram, runEvals, type EvalTokens, type RunEvalsOptions, type EvalResult,
} from './analysis/evals.js';
export {
  featureProperties, decoderLogitProjection, logitWeightStats, type SaeWeightsView, type FeatureProperties,
  type LogitWeightStats, type LogitWeightOptions,
} from './analysis/featureStatistics.js';
export {
  featureDashboards, FeatureDashboardBuilder, chosenFeatureActs, nearestByDecoder,
  type DashboardData, type DashboardExample, type DashboardInterval, type FeatureDashboard,
  type FeatureDashboardOptions, type FeatureDashboardRun, type TokenValue,
} from './analysis/dashboard/index.js';
export {
  saeVisFeatureData, saeVisHistogram, type SaeVisInputs, type SaeVisOptions, type SaeVisFeature,
} from './analysis/saeVisFeatureData.js';
