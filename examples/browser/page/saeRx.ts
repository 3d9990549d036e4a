/**
 * What the demo page uses of sae-rx: the one place it imports the library from, so the page
 * reads as a user's page would.
 */
import * as tf from '@tensorflow/tfjs';
export { tf };
export { toyModel, trainToyModel, toyFeatures, toyHidden, toyFeatureRecovery, type ToyModel, type FeatureRecovery } from '../../../src/sources/toyModel.js';
export { Rng } from '../../../src/stream/rng.js';
export { Sae } from '../../../src/sae/Sae.js';
export { DEFAULT_SAE_CONFIG } from '../../../src/sae/SaeConfig.js';
export { tableDefaults } from '../../../src/config/fields.js';
export { architectureOf } from '../../../src/sae/architectures/registry.js';
export { SaeTrainer, type StepMetrics } from '../../../src/train/SaeTrainer.js';
export { DEFAULT_TRAINER_CONFIG } from '../../../src/train/TrainerConfig.js';
export { lineChartSvg } from '../../../src/sinks/report/charts.js';
export { REPORT_CSS } from '../../../src/sinks/report/assets.js';
export { escapeHtml, formatNumber } from '../../../src/sinks/report/format.js';
export { featureDashboards, chosenFeatureActs, type DashboardData } from '../../../src/analysis/dashboard/featureDashboards.js';
export { renderDashboards } from '../../../src/sinks/dashboard/renderDashboards.js';
export type { TokenBatch } from '../../../src/stream/TokenBatch.js';
export type { HookedTransformer } from '../../../src/model/HookedTransformer.js';
export type { HfTokenizer } from '../../../src/model/tokenizer.js';
export { loadModelFromUrl, loadSaeFromUrl, loadTokenizerFromUrl } from './loaders.js';
