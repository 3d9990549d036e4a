export {
  featureDashboards,
  FeatureDashboardBuilder,
  chosenFeatureActs,
  nearestByDecoder,
  type DashboardData,
  type DashboardExample,
  type DashboardInterval,
  type FeatureDashboard,
  type FeatureDashboardOptions,
  type FeatureDashboardRun,
  type TokenValue,
} from './featureDashboards.js';
