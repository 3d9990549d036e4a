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

/**
 * The sizes with `?toySteps=N&saeSteps=M` from the page's address applied (positive integers;
 * anything else is ignored): a shorter run for a slow backend or a test.
 */
export function toyDemoSizes(params: URLSearchParams): typeof TOY_DEMO {
  const int = (name: string, fallback: number): number => {
    const v = Number(params.get(name));
    return Number.isInteger(v) && v > 0 ? v : fallback;
  };
  return { ...TOY_DEMO, toySteps: int('toySteps', TOY_DEMO.toySteps), saeSteps: int('saeSteps', TOY_DEMO.saeSteps) } as typeof TOY_DEMO;
}
