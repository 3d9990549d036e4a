/**
 * TrainEvent records as W&B history rows, under SAELens v1.5.0's metric names
 * (train_sae_on_language_model.py `_build_train_step_log_dict`, evals.py `run_evals`), each with
 * the SAE's suffix (SAELens's `_wandb_log_suffix`, '' for a single SAE).
 */
import type { EvalRecord, Histogram, StepRecord } from '../../stream/TrainEvent.js';

export type HistoryValue = number | string | boolean | null | { _type: 'histogram'; values: number[]; bins: number[] };
export type HistoryRow = Record<string, HistoryValue>;

/** W&B's histogram object (wandb.Histogram.to_json): counts as `values`, edges as `bins`. */
export function wandbHistogram(h: Histogram): { _type: 'histogram'; values: number[]; bins: number[] } {
  return { _type: 'histogram', values: [...h.counts], bins: [...h.edges] };
}

/** JSON has no NaN/Infinity; W&B drops such values rather than storing null. */
function put(row: HistoryRow, key: string, v: number): void {
  if (Number.isFinite(v)) row[key] = v;
}

/** A step record's metrics, as SAELens logs them every wandb_log_frequency steps. */
export function stepRow(r: StepRecord, suffix: string): HistoryRow {
  const row: HistoryRow = {};
  const { mse, l1, ghost, total, ...extra } = r.losses;
  put(row, `losses/mse_loss${suffix}`, mse);
  if (r.architecture === undefined) {
    // SAELens v1.5 logs the L1 term divided by the current coefficient (0 during the first
    // warm-up step, where it would log NaN: we leave the value out instead).
    if (r.l1Coefficient > 0 && l1 !== undefined) put(row, `losses/l1_loss${suffix}`, l1 / r.l1Coefficient);
    if (ghost !== undefined) put(row, `losses/ghost_grad_loss${suffix}`, ghost);
  } else {
    // SAELens 6 logs every loss term as trained (l1_loss λ-weighted) and each coefficient.
    if (l1 !== undefined) put(row, `losses/l1_loss${suffix}`, l1);
    for (const [name, v] of Object.entries(r.coefficients ?? {})) put(row, `details/${name}_coefficient${suffix}`, v);
  }
  put(row, `losses/overall_loss${suffix}`, total);
  // SAELens 6 architectures name their terms as SAELens logs them (inner_mse_loss_<w>, …)
  const key = (name: string) => (r.architecture !== undefined || name.endsWith('_loss') ? name : `${name}_loss`);
  for (const [name, v] of Object.entries(extra)) if (v !== undefined) put(row, `losses/${key(name)}${suffix}`, v);
  put(row, `metrics/explained_variance${suffix}`, r.explainedVarianceMean);
  put(row, `metrics/explained_variance_std${suffix}`, r.explainedVarianceStd);
  put(row, `metrics/l0${suffix}`, r.l0);
  put(row, `sparsity/dead_features${suffix}`, r.deadFeatures);
  put(row, `details/current_learning_rate${suffix}`, r.lr);
  if (r.architecture === undefined) put(row, `details/current_l1_coefficient${suffix}`, r.l1Coefficient);
  // SAELens logs the token count without a suffix: it is shared by every SAE of a sweep.
  put(row, 'details/n_training_tokens', r.tokens);
  return row;
}

// SAELens's sections for eval metric names other than metrics/.
const SECTION: Record<string, string> = {
  ce_loss_score: 'metrics/CE_loss_score',
  dead_features: 'sparsity/dead_features',
  mean_passes_since_fired: 'sparsity/mean_passes_since_fired',
  'below_1e-5': 'sparsity/below_1e-5',
  'below_1e-6': 'sparsity/below_1e-6',
  W_dec_norms: 'weights/W_dec_norms',
  b_e: 'weights/b_e',
  feature_density: 'plots/feature_density_line_chart',
  feature_density_line_chart: 'plots/feature_density_line_chart',
};

/** The W&B name of an eval metric or histogram: SAELens's section/name, plus the suffix. */
export function evalKey(name: string, suffix: string, histogram = false): string {
  if (name.includes('/')) return `${name}${suffix}`;
  const known = SECTION[name] ?? SECTION[name.toLowerCase()];
  if (known) return `${known}${suffix}`;
  return `${histogram ? 'weights' : 'metrics'}/${name}${suffix}`;
}

/** An eval record's metrics (CE_loss_score, ce_loss_with_sae, kl_div, l2_ratio, …) and histograms. */
export function evalRow(r: EvalRecord, suffix: string): HistoryRow {
  const row: HistoryRow = {};
  for (const [name, v] of Object.entries(r.metrics)) put(row, evalKey(name, suffix), v);
  for (const [name, h] of Object.entries(r.histograms ?? {})) row[evalKey(name, suffix, true)] = wandbHistogram(h);
  return row;
}
