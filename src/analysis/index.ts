export {
  logDensityHistogram, featureDensity, LOG_DENSITY_EPS, type FeatureDensity, type DensityOptions,
  FeatureDensityAccumulator,
} from './featureDensity.js';
export {
  topActivations, type ActivationExample, type FeatureTopActivations, type TopActivationsOptions,
  TopActivationsAccumulator,
} from './topActivations.js';
export {
  cleanTokenString, logitWeights, neuronpediaExport, neuronpediaSkippedIndexes, DEFAULT_SPARSITY_THRESHOLD,
  type FeatureLogits, type NeuronpediaActivation, type NeuronpediaFeature, type NeuronpediaBatch,
  type NeuronpediaExportInput, OUT_OF_RANGE_TOKEN, npRound3,
} from './neuronpedia.js';
export {
  saeVisFeatureData, saeVisHistogram, linspace32, type SaeVisInputs, type SaeVisOptions, type SaeVisFeature,
  type SaeVisGroup, type SaeVisSequence, type SaeVisHistogram,
} from './saeVisFeatureData.js';
export { runNeuronpedia, arraySplit, type NeuronpediaRunOptions } from './neuronpediaRunner.js';
export {
  isHeadHook, histogram, runEvals, type EvalTokens, type RunEvalsOptions, type EvalResult,
} from './evals.js';
export {
  featureProperties, decoderLogitProjection, logitWeightStats, type SaeWeightsView, type FeatureProperties,
  DEAD_LOG_DENSITY, type LogitWeightStats, type LogitWeightOptions,
} from './featureStatistics.js';
export {
  featureDashboards, FeatureDashboardBuilder, chosenFeatureActs, nearestByDecoder,
  type DashboardData, type DashboardExample, type DashboardInterval, type FeatureDashboard,
  type FeatureDashboardOptions, type FeatureDashboardRun, type TokenValue,
} from './dashboard/index.js';
export {
  readTokenizerVocab, pythonMatchRegExp, regexTokenSets, letterTokenSets, posTokenSets, nameTokenSets,
  wordListTokenSets, mergeTokenSets, SAELENS_REGEX_SETS, type Vocab, type TokenSets,
} from './tokenSets.js';
export { SAELENS_WORD_LISTS } from './tseaWordLists.js';
export {
  enrichmentScores, enrichmentScoresFromRows, enrichmentToLogScale, topFeaturesForSet, type EnrichmentScores,
} from './tsea.js';
export {
  manhattanPlotSvg, featureProjectionsSvg, escapeXml, type ManhattanPlotOptions, type ProjectionPlotInput,
} from './tseaPlots.js';
