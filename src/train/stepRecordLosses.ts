/**
 * The `losses` of a step record (stream/TrainEvent.ts) from a trainer step: the v1.5 short
 * names (mse, l1, ghost, total) and every other loss term of the architecture under its
 * SAELens 6 metric name (auxiliary_reconstruction_loss, inner_mse_loss_<w>, …).
 */
import type { StepRecord } from '../stream/TrainEvent.js';
import type { StepMetrics } from './SaeTrainer.js';

/** Terms the short names already carry. */
const SHORT_NAMED = new Set(['mse_loss', 'l1_loss', 'ghost_grad_loss', 'overall_loss']);

export function stepRecordLosses(m: StepMetrics): StepRecord['losses'] {
  const out: Record<string, number> = { ...m.losses };
  for (const [name, v] of Object.entries(m.terms)) if (!SHORT_NAMED.has(name)) out[name] = v;
  return out as StepRecord['losses'];
}
