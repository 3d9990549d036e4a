/**
 * What the demo page uses of sae-rx: its browser build (src/browser.ts), imported from this one
 * place so the page reads as a user's page would. Two small helpers it does not export come from
 * their modules.
 */
export {
  tf,
  selectBackend,
  toyModel,
  trainToyModelAsync,
  toyActivations,
  toyFeatureRecovery,
  Sae,
  DEFAULT_SAE_CONFIG,
  architectureOf,
  SaeTrainer,
  DEFAULT_TRAINER_CONFIG,
  lineChartSvg,
  CHART_CSS,
  featureDashboards,
  chosenFeatureActs,
  renderDashboards,
  type ToyModel,
  type FeatureRecovery,
  type StepMetrics,
  type DashboardData,
  type TokenBatch,
  HookedTransformer,
  urlFolder,
  loadTokenizerFrom,
  loadSaeFrom,
  type TextTokenizer,
} from '../../../src/browser.js';
export { tableDefaults } from '../../../src/config/fields.js';
export { escapeHtml } from '../../../src/sinks/report/format.js';
