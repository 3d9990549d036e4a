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
  const out: Record<string, number> = { mse: m.losses.mse, total: m.losses.total };
  if ('l1_loss' in m.terms) out['l1'] = m.losses.l1;
  if ('ghost_grad_loss' in m.terms) out['ghost'] = m.losses.ghost;
  for (const [name, v] of Object.entries(m.terms)) if (!SHORT_NAMED.has(name)) out[name] = v;
  return out as StepRecord['losses'];
}

/** The architecture and coefficients of a step record: absent for SAELens v1.5's standard SAE (its records stay as they were). */
export function stepRecordArchitecture(m: StepMetrics): Pick<StepRecord, 'architecture' | 'coefficients'> {
  return m.architecture === 'standard' ? {} : { architecture: m.architecture, coefficients: { ...m.coefficients } };
}
