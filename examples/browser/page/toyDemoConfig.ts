/**
 * The toy part's sizes (page/toyDemo.ts explains them); a module of its own so that the browser
 * test reads the same numbers without loading the page's code.
 */
export const TOY_DEMO = {
  nFeatures: 10,
  nHidden: 5,
  featureProbability: 0.05,
  seed: 42,
  toySteps: 100,
  toyBatch: 512,
  toyLr: 1e-2,
  dSae: 20,
  k: 1,
  saeSteps: 60,
  saeBatch: 256,
  saeLr: 1e-2,
  deadFeatureWindow: 50,
  threshold: 0.9,
} as const;
