export * from './featureDensity.js';
export * from './topActivations.js';
export * from './neuronpedia.js';
export * from './evals.js';
export * from './featureStatistics.js';
