/**
 * SAELens 6's `LanguageModelSAERunnerConfig` (sae_lens/config.py): runner fields at the top,
 * the SAE in a nested `sae:` block with its `architecture`, W&B settings in a nested `logger:`
 * block. `flattenSaelens6RunnerConfig` turns it into sae-rx's flat runner config (the v1.5
 * field names) so that one decoder checks both:
 *
 * - renamed: hook_name → hook_point, hook_head_index → hook_point_head_index,
 *   train_batch_size_tokens → train_batch_size, store_batch_size_prompts → store_batch_size,
 *   model_from_pretrained_kwargs → model_kwargs; `logger:` fields move to the top;
 * - `sae.architecture: standard` means SAELens 6's standard SAE, sae-rx's `standard_v6` (a flat
 *   config's `standard` is SAELens v1.5's); the other architecture names are the same;
 * - SAELens 6's defaults where they differ from v1.5's (adam_beta1 0.9, lr_warm_up_steps 0,
 *   l1_coefficient 1.0 for the standard SAE) apply to fields the config does not give;
 * - fields SAELens 6 has and sae-rx does not honour are accepted only at a value that changes
 *   nothing (autocast false, …); anything else is an error naming the field.
 */
import { type ConfigProblem, isPlainObject } from './fields.js';

const RENAMES: Readonly<Record<string, string>> = {
  hook_name: 'hook_point',
  hook_head_index: 'hook_point_head_index',
  train_batch_size_tokens: 'train_batch_size',
  store_batch_size_prompts: 'store_batch_size',
  model_from_pretrained_kwargs: 'model_kwargs',
};

/** SAELens 6 fields sae-rx has no use for, with the values at which ignoring them changes nothing. */
const NO_OP_FIELDS: Readonly<Record<string, readonly unknown[]>> = {
  autocast: [false],
  autocast_lm: [false],
  compile_llm: [false],
  compile_sae: [false],
  llm_compilation_mode: [null],
  sae_compilation_mode: [null],
  act_store_device: ['with_model', 'cpu'],
  dataset_trust_remote_code: [null, false, true],
  save_final_checkpoint: [true],
  exclude_special_tokens: [false],
  disable_concat_sequences: [false],
  output_path: [null],
  resume_from_checkpoint: [null],
  n_eval_batches: [10],
  eval_batch_size_prompts: [null],
};

/** `sae:` block fields that are runner-level fields of sae-rx's flat config. */
const SAE_BLOCK_TO_FLAT = new Set(['d_in', 'd_sae', 'apply_b_dec_to_input', 'normalize_activations', 'mse_loss_normalization', 'dtype', 'device']);
/** `sae:` block fields sae-rx accepts at these values only. */
const SAE_BLOCK_NO_OP: Readonly<Record<string, readonly unknown[]>> = { reshape_activations: ['none'], metadata: [] };

/** Whether raw is a SAELens 6 runner config (it has a nested `sae:` block). */
export function isSaelens6RunnerConfig(raw: Record<string, unknown>): boolean {
  return isPlainObject(raw['sae']);
}

/** The flat sae-rx config of a SAELens 6 runner config, and what cannot be carried over. */
export function flattenSaelens6RunnerConfig(raw: Record<string, unknown>): { flat: Record<string, unknown>; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const flat: Record<string, unknown> = {};
  const noOp = (path: string, value: unknown, allowed: readonly unknown[]) => {
    if (!allowed.some((a) => JSON.stringify(a) === JSON.stringify(value))) {
      problems.push({ path, message: `SAELens 6 field not supported by sae-rx except at ${allowed.map((a) => JSON.stringify(a)).join(' or ') || 'its absence'}; got ${JSON.stringify(value)}` });
    }
  };
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'sae' || v === undefined) continue;
    if (k === 'logger') {
      if (!isPlainObject(v)) problems.push({ path: 'logger', message: `expected an object of W&B settings, got ${JSON.stringify(v)}` });
      else for (const [lk, lv] of Object.entries(v)) flat[lk] = lv;
      continue;
    }
    if (k in NO_OP_FIELDS) {
      noOp(k, v, NO_OP_FIELDS[k]!);
      continue;
    }
    if (k === 'seqpos_slice') {
      noOp(k, v, [[null], [null, null], null]);
      continue;
    }
    flat[RENAMES[k] ?? k] = v;
  }
  const sae = raw['sae'] as Record<string, unknown>;
  for (const [k, v] of Object.entries(sae)) {
    if (v === undefined) continue;
    if (k === 'architecture') {
      flat['architecture'] = v === 'standard' ? 'standard_v6' : v;
    } else if (k in SAE_BLOCK_NO_OP) {
      if (k !== 'metadata') noOp(`sae.${k}`, v, SAE_BLOCK_NO_OP[k]!);
    } else if (k in flat && !SAE_BLOCK_TO_FLAT.has(k)) {
      problems.push({ path: `sae.${k}`, message: `is also given at the top level; give it once` });
    } else {
      flat[k] = v;
    }
  }
  flat['architecture'] ??= 'standard_v6';
  // SAELens 6's defaults where they differ from v1.5's (the flat decoder fills v1.5's).
  flat['adam_beta1'] ??= 0.9;
  flat['lr_warm_up_steps'] ??= 0;
  if (flat['architecture'] === 'standard_v6') flat['l1_coefficient'] ??= 1.0;
  return { flat, problems };
}
