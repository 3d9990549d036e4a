/**
 * Sweeps: SAELens's SparseAutoencoderDictionary trains one SAE per combination of the
 * list-valued hyperparameters (itertools.product over them, in field order, the last varying
 * fastest), on one activation stream. `expandSweep` gives those combinations as single configs,
 * each with SAELens's SAE name as `sae_id` and its W&B metric suffix.
 */
import { type ConfigProblem, RunnerConfigError } from './fields.js';
import { formatHookName } from './hookPoint.js';
import { formatHookNameOut } from './transcoderFields.js';
import {
  type LanguageModelSaeRunnerConfig, type LR_SCHEDULER_NAMES, SWEEP_FIELDS,
} from './languageModelRunnerConfig.js';
import { pyStr } from './pyFormat.js';

/** One SAE's config: every sweep field a single value, hook names formatted, ids set. */
export interface SingleLanguageModelSaeRunnerConfig
  extends Omit<
    LanguageModelSaeRunnerConfig,
    | 'hook_point_layer' | 'd_sae' | 'expansion_factor' | 'adam_beta1' | 'adam_beta2' | 'l1_coefficient' | 'lp_norm'
    | 'l1_warm_up_steps' | 'lr' | 'lr_scheduler_name' | 'lr_warm_up_steps' | 'lr_end' | 'lr_decay_steps'
    | 'n_restart_cycles' | 'use_ghost_grads'
  > {
  hook_point_layer: number;
  d_sae: number;
  expansion_factor: number;
  adam_beta1: number;
  adam_beta2: number;
  l1_coefficient: number;
  lp_norm: number;
  l1_warm_up_steps: number;
  lr: number;
  lr_scheduler_name: (typeof LR_SCHEDULER_NAMES)[number];
  lr_warm_up_steps: number;
  lr_end: number;
  lr_decay_steps: number;
  n_restart_cycles: number;
  use_ghost_grads: boolean;
  /** SAELens's SAE name: `{model}_{hook_point}_{d_sae}_{k}_{v}_…` over the swept keys. */
  sae_id: string;
  /** SAELens's W&B metric suffix (`_coeff0.001_lr0.0003`), '' when nothing is swept. */
  wandb_suffix: string;
  /** The swept keys and this SAE's values for them. */
  sweep_values: Record<string, unknown>;
}

// SAELens's _wandb_log_suffix short names.
const SUFFIX_NAMES: Record<string, string> = {
  hook_point_layer: 'layer',
  l1_coefficient: 'coeff',
  lp_norm: 'l',
  lr: 'lr',
};

function cartesian(lists: unknown[][]): unknown[][] {
  return lists.reduce<unknown[][]>((acc, list) => acc.flatMap((prefix) => list.map((x) => [...prefix, x])), [[]]);
}

/** Checks that hold per SAE (its scheduler, its widths): SAELens's optim.py raises or misbehaves. */
function singleConfigProblems(c: SingleLanguageModelSaeRunnerConfig): ConfigProblem[] {
  const p: ConfigProblem[] = [];
  const at = c.wandb_suffix ? ` (sweep values ${JSON.stringify(c.sweep_values)})` : '';
  const total = c.total_training_steps;
  const warm = c.lr_warm_up_steps;
  const decay = c.lr_decay_steps;
  if (decay > 0 && c.lr_end === 0 && c.lr_scheduler_name !== 'constant') {
    p.push({ path: 'lr_decay_steps / lr_end', message: `cannot decay from lr_end=0 to 0 over ${decay} steps; set lr_end > 0 or lr_decay_steps to 0${at}` });
  }
  if (decay > 0 && warm + decay > total) {
    p.push({
      path: 'lr_warm_up_steps / lr_decay_steps',
      message: `warm-up (${warm}) + decay (${decay}) steps exceed the ${total} training steps (training_tokens // train_batch_size)${at}`,
    });
  }
  // torch's CosineAnnealingWarmRestarts raises at construction unless T_0 = steps // cycles >= 1
  // (plain cosine with no steps left only never runs, which is harmless).
  if (c.lr_scheduler_name === 'cosineannealingwarmrestarts') {
    const base = total - warm - decay;
    if (Math.floor(base / c.n_restart_cycles) < 1) {
      p.push({
        path: 'lr_scheduler_name / n_restart_cycles',
        message:
          `cosineannealingwarmrestarts needs at least one step per restart cycle (${c.n_restart_cycles}) after warm-up (${warm}) ` +
          `and decay (${decay}), but training has only ${total} steps${at}`,
      });
    }
  }
  if (!Number.isSafeInteger(c.d_sae) || c.d_sae <= 0) {
    p.push({ path: 'd_sae', message: `d_sae must be a positive integer, got ${c.d_sae} (d_in ${c.d_in} × expansion_factor ${c.expansion_factor})${at}` });
  }
  return p;
}

/** All combinations, unchecked. */
function expandSweepUnchecked(cfg: LanguageModelSaeRunnerConfig): SingleLanguageModelSaeRunnerConfig[] {
  const base = cfg as unknown as Record<string, unknown>;
  const dSaeGivenAsList = Array.isArray(base.d_sae);
  // A d_sae list implies its expansion factors one to one: they are not a second axis.
  const keys = SWEEP_FIELDS.filter((k) => Array.isArray(base[k]) && !(dSaeGivenAsList && k === 'expansion_factor'));
  return cartesian(keys.map((k) => base[k] as unknown[])).map((combo) => {
    const c: Record<string, unknown> = { ...base, model_kwargs: { ...cfg.model_kwargs } };
    const sweepValues: Record<string, unknown> = {};
    keys.forEach((k, i) => {
      c[k] = combo[i];
      sweepValues[k] = combo[i];
    });
    // Re-derive per SAE what __post_init__ derives from swept values.
    if (dSaeGivenAsList) c.expansion_factor = (c.d_sae as number) / cfg.d_in;
    else c.d_sae = cfg.d_in * (c.expansion_factor as number);
    if (c.lr_end === null) c.lr_end = (c.lr as number) / 10;
    c.hook_point = formatHookName(cfg.hook_point, c.hook_point_layer as number);
    c.hook_point_eval = formatHookName(cfg.hook_point_eval, c.hook_point_layer as number);
    formatHookNameOut(c, c.hook_point_layer as number);
    // model_hook_dSae, then the swept values (no trailing '_' when nothing is swept)
    c.sae_id = [`${cfg.model_name.replace(/\//g, '_')}_${c.hook_point as string}_${c.d_sae as number}`, ...keys.map((k, i) => `${k}_${pyStr(combo[i])}`)].join('_');
    c.wandb_suffix = keys.map((k, i) => `_${SUFFIX_NAMES[k] ?? k}${pyStr(combo[i])}`).join('');
    c.sweep_values = sweepValues;
    return c as unknown as SingleLanguageModelSaeRunnerConfig;
  });
}

/**
 * One single-SAE config per combination of the list-valued hyperparameters (a config with no
 * lists gives one). Throws a RunnerConfigError if some combination cannot train.
 */
export function expandSweep(cfg: LanguageModelSaeRunnerConfig): SingleLanguageModelSaeRunnerConfig[] {
  const singles = expandSweepUnchecked(cfg);
  const problems = dedupe(singles.flatMap(singleConfigProblems));
  if (problems.length > 0) throw new RunnerConfigError('language-model SAE runner config', problems);
  return singles;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Whether any hyperparameter is a list. */
export function isSweep(cfg: LanguageModelSaeRunnerConfig): boolean {
  const base = cfg as unknown as Record<string, unknown>;
  return SWEEP_FIELDS.some((k) => Array.isArray(base[k]));
}
