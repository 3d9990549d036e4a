/**
 * The norm-scaling factors a run's batches carried (normalizeActivations): the input's, and a
 * transcoder's target's. Folded into the SAE folder's copy of the weights, kept in the training
 * state as they are.
 */
export interface NormFactors {
  readonly normScalingFactor?: number;
  readonly targetNormScalingFactor?: number;
}

/** The factors of `n` that are set (no undefined keys). */
export function definedFactors(n: NormFactors): NormFactors {
  return {
    ...(n.normScalingFactor !== undefined ? { normScalingFactor: n.normScalingFactor } : {}),
    ...(n.targetNormScalingFactor !== undefined ? { targetNormScalingFactor: n.targetNormScalingFactor } : {}),
  };
}
