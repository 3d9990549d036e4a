/**
 * SAELens v1.5.0's `LanguageModelSAERunnerConfig` (sae_lens/training/config.py): the same
 * snake_case fields and defaults, the `__post_init__` checks and derived fields, and the
 * list-valued hyperparameters that make a sweep (expanded by `expandSweep`).
 *
 * Differences from SAELens, each because SAELens would crash or silently do the wrong thing:
 * an unknown key is an error (Python would raise TypeError, without a suggestion); d_sae that
 * contradicts expansion_factor is an error (SAELens silently overwrites it); a hook_point naming
 * another layer than hook_point_layer is an error; schedules that cannot run (cosine with no
 * steps left after warm-up and decay) are errors; dtype must be float32 (sae-rx computes in
 * float32 only). `d_sae` may also be a list (a sweep over widths).
 */
import * as t from 'io-ts';
import {
  Bool, Int, NonEmptyStr, NonNegativeInt, NonNegativeNum, PositiveInt, PositiveNum, Str, StrRecord,
  UnitInterval, nullable, oneOf,
} from './codecs.js';
import { type ConfigProblem, type FieldTable, RunnerConfigError, decodeFields, isPlainObject } from './fields.js';
import { hookLayerMismatch, hookNameProblems, layerOfHookName } from './hookPoint.js';
import { pyExp3, pyStr } from './pyFormat.js';
import { V15_STANDARD, isTranscoderArchitecture, takeArchitectureFields, transcoderArchitectureNames } from './architectureFields.js';
import { type TranscoderRunnerFields, finishTranscoderFields, takeTranscoderFields } from './transcoderFields.js';
import { flattenSaelens6RunnerConfig, isSaelens6RunnerConfig } from './saelens6RunnerConfig.js';

/** The SAELens version whose numerics and cfg.json sae-rx follows. */
export const SAE_LENS_VERSION = '1.5.0';

export type Sweep<T> = T | T[];

export const LR_SCHEDULER_NAMES = ['constant', 'cosineannealing', 'cosineannealingwarmrestarts'] as const;
export const B_DEC_INIT_METHODS = ['geometric_median', 'mean', 'zeros'] as const;
export const ACTIVATION_FNS = ['relu', 'tanh-relu'] as const;
export const FINETUNING_METHODS = ['scale', 'decoder', 'unrotated_decoder'] as const;
export const MODEL_CLASS_NAMES = ['HookedTransformer', 'HookedMamba'] as const;
/**
 * SAELens v1.5 has `normalize_activations: bool`; later versions name the method. Both forms are
 * accepted; true means 'expected_average_only_in' (scale to mean norm √d_in).
 */
export const NORMALIZE_ACTIVATIONS = ['none', 'expected_average_only_in'] as const;

/** A decoded runner config: SAELens's fields after __post_init__; list values are sweeps. */
export interface LanguageModelSaeRunnerConfig {
  /**
   * The SAE architecture (src/sae/architectures/): 'standard' (SAELens v1.5's, the default) or a
   * registered one; its own fields (SAELens 6 names: k, aux_loss_coefficient, …) sit at the top
   * level of the decoded config beside the runner's. Absent for v1.5's standard SAE.
   */
  architecture?: string;
  /**
   * Transcoders (SAELens 6 `TranscoderConfig`): d_out, hook_name_out, hook_layer_out,
   * hook_head_index_out. Present only for a transcoder architecture.
   */
  d_out?: TranscoderRunnerFields['d_out'];
  hook_name_out?: TranscoderRunnerFields['hook_name_out'];
  hook_layer_out?: TranscoderRunnerFields['hook_layer_out'];
  hook_head_index_out?: TranscoderRunnerFields['hook_head_index_out'];
  // Data generating function (model + training distribution)
  model_name: string;
  model_class_name: (typeof MODEL_CLASS_NAMES)[number];
  /** May contain `{layer}`, replaced per SAE by its hook_point_layer. */
  hook_point: string;
  hook_point_eval: string;
  hook_point_layer: Sweep<number>;
  hook_point_head_index: number | null;
  dataset_path: string;
  streaming: boolean;
  is_dataset_tokenized: boolean;
  context_size: number;
  use_cached_activations: boolean;
  /** Derived when use_cached_activations: activations/{dataset}/{model}/{hook_point}[_{head}]. */
  cached_activations_path: string | null;
  // SAE parameters
  d_in: number;
  /** d_in × expansion_factor (null when expansion_factor is a sweep). */
  d_sae: Sweep<number> | null;
  b_dec_init_method: (typeof B_DEC_INIT_METHODS)[number];
  expansion_factor: Sweep<number>;
  activation_fn: (typeof ACTIVATION_FNS)[number];
  normalize_sae_decoder: boolean;
  noise_scale: number;
  from_pretrained_path: string | null;
  apply_b_dec_to_input: boolean;
  decoder_orthogonal_init: boolean;
  decoder_heuristic_init: boolean;
  init_encoder_as_decoder_transpose: boolean;
  // Activation store
  n_batches_in_buffer: number;
  training_tokens: number;
  finetuning_tokens: number;
  store_batch_size: number;
  train_batch_size: number;
  normalize_activations: boolean | (typeof NORMALIZE_ACTIVATIONS)[number];
  // Misc
  device: string;
  seed: number;
  dtype: 'float32';
  prepend_bos: boolean;
  // Training
  adam_beta1: Sweep<number>;
  adam_beta2: Sweep<number>;
  mse_loss_normalization: 'dense_batch' | null;
  l1_coefficient: Sweep<number>;
  lp_norm: Sweep<number>;
  scale_sparsity_penalty_by_decoder_norm: boolean;
  l1_warm_up_steps: Sweep<number>;
  lr: Sweep<number>;
  lr_scheduler_name: Sweep<(typeof LR_SCHEDULER_NAMES)[number]>;
  lr_warm_up_steps: Sweep<number>;
  /** lr / 10 when not given (per SAE, when lr is a sweep). */
  lr_end: Sweep<number> | null;
  lr_decay_steps: Sweep<number>;
  n_restart_cycles: Sweep<number>;
  finetuning_method: (typeof FINETUNING_METHODS)[number] | null;
  use_ghost_grads: Sweep<boolean>;
  feature_sampling_window: number;
  dead_feature_window: number;
  dead_feature_threshold: number;
  // W&B
  log_to_wandb: boolean;
  log_activations_store_to_wandb: boolean;
  log_optimizer_state_to_wandb: boolean;
  wandb_project: string;
  wandb_id: string | null;
  /** `{d_sae}-L1-{l1_coefficient}-LR-{lr}-Tokens-{training_tokens:3.3e}` when not given. */
  run_name: string;
  wandb_entity: string | null;
  wandb_log_frequency: number;
  eval_every_n_wandb_logs: number;
  // Misc
  resume: boolean;
  n_checkpoints: number;
  /** As SAELens: the given folder with `/{wandb_id or a generated id}` appended. */
  checkpoint_path: string;
  verbose: boolean;
  model_kwargs: Record<string, unknown>;
  sae_lens_version: string;
  sae_lens_training_version: string;
  // Derived (not settable)
  /** train_batch_size × context_size × n_batches_in_buffer (SAELens's formula). */
  tokens_per_buffer: number;
  /** (training_tokens + finetuning_tokens) // train_batch_size: the LR schedule's horizon. */
  total_training_steps: number;
  /** The id appended to checkpoint_path: wandb_id, or a generated 8-character id. */
  run_id: string;
}

const lowerCase = (u: unknown) => (typeof u === 'string' ? u.toLowerCase() : u);
/** SAELens writes `str(torch.float32)` = "torch.float32" into cfg.json; the default is "float32". */
const dtypeAlias = (u: unknown) => (u === 'torch.float32' ? 'float32' : u);

const Dtype = new t.Type<'float32', unknown, unknown>(
  '"float32" (sae-rx trains in float32 only)',
  (u): u is 'float32' => u === 'float32',
  (u, c) => (u === 'float32' ? t.success('float32') : t.failure(u, c)),
  (a) => a,
);
const NormalizeActivations = t.union([Bool, oneOf(NORMALIZE_ACTIVATIONS)], `a boolean or one of "none" | "expected_average_only_in"`);
const BuffersInBuffer = new t.Type<number, unknown, unknown>(
  'an integer >= 2 (half the buffer is kept, half served)',
  (u): u is number => Number.isSafeInteger(u) && (u as number) >= 2,
  (u, c) => (Number.isSafeInteger(u) && (u as number) >= 2 ? t.success(u as number) : t.failure(u, c)),
  (a) => a,
);

/** The fields, in SAELens's dataclass order (sweep keys and ids follow this order). */
export const LANGUAGE_MODEL_FIELDS: FieldTable = {
  model_name: { codec: NonEmptyStr, default: 'gelu-2l' },
  model_class_name: { codec: oneOf(MODEL_CLASS_NAMES), default: 'HookedTransformer' },
  hook_point: { codec: NonEmptyStr, default: 'blocks.{layer}.hook_mlp_out' },
  hook_point_eval: { codec: NonEmptyStr, default: 'blocks.{layer}.attn.pattern' },
  hook_point_layer: { codec: NonNegativeInt, default: 0, sweep: true },
  hook_point_head_index: { codec: nullable(NonNegativeInt), default: null },
  dataset_path: { codec: NonEmptyStr, default: 'NeelNanda/c4-tokenized-2b' },
  streaming: { codec: Bool, default: true },
  is_dataset_tokenized: { codec: Bool, default: true },
  context_size: { codec: PositiveInt, default: 128 },
  use_cached_activations: { codec: Bool, default: false },
  cached_activations_path: { codec: nullable(NonEmptyStr), default: null },
  d_in: { codec: PositiveInt, default: 512 },
  d_sae: { codec: nullable(PositiveInt), default: null, sweep: true },
  b_dec_init_method: { codec: oneOf(B_DEC_INIT_METHODS), default: 'geometric_median' },
  expansion_factor: { codec: PositiveInt, default: 4, sweep: true },
  activation_fn: { codec: oneOf(ACTIVATION_FNS), default: 'relu' },
  normalize_sae_decoder: { codec: Bool, default: true },
  noise_scale: { codec: NonNegativeNum, default: 0 },
  from_pretrained_path: { codec: nullable(NonEmptyStr), default: null },
  apply_b_dec_to_input: { codec: Bool, default: true },
  decoder_orthogonal_init: { codec: Bool, default: false },
  decoder_heuristic_init: { codec: Bool, default: false },
  init_encoder_as_decoder_transpose: { codec: Bool, default: false },
  n_batches_in_buffer: { codec: BuffersInBuffer, default: 20 },
  training_tokens: { codec: PositiveInt, default: 2_000_000 },
  finetuning_tokens: { codec: NonNegativeInt, default: 0 },
  store_batch_size: { codec: PositiveInt, default: 32 },
  train_batch_size: { codec: PositiveInt, default: 4096 },
  normalize_activations: { codec: NormalizeActivations, default: false },
  device: { codec: NonEmptyStr, default: 'cpu' },
  seed: { codec: Int, default: 42 },
  dtype: { codec: Dtype, default: 'float32', normalize: dtypeAlias },
  prepend_bos: { codec: Bool, default: true },
  adam_beta1: { codec: UnitInterval, default: 0, sweep: true },
  adam_beta2: { codec: UnitInterval, default: 0.999, sweep: true },
  mse_loss_normalization: { codec: nullable(oneOf(['dense_batch'] as const)), default: null },
  l1_coefficient: { codec: NonNegativeNum, default: 1e-3, sweep: true },
  lp_norm: { codec: PositiveNum, default: 1, sweep: true },
  scale_sparsity_penalty_by_decoder_norm: { codec: Bool, default: false },
  l1_warm_up_steps: { codec: NonNegativeInt, default: 0, sweep: true },
  lr: { codec: PositiveNum, default: 3e-4, sweep: true },
  lr_scheduler_name: { codec: oneOf(LR_SCHEDULER_NAMES), default: 'constant', sweep: true, normalize: lowerCase },
  lr_warm_up_steps: { codec: NonNegativeInt, default: 500, sweep: true },
  lr_end: { codec: nullable(NonNegativeNum), default: null, sweep: true },
  lr_decay_steps: { codec: NonNegativeInt, default: 0, sweep: true },
  n_restart_cycles: { codec: PositiveInt, default: 1, sweep: true },
  finetuning_method: { codec: nullable(oneOf(FINETUNING_METHODS)), default: null },
  use_ghost_grads: { codec: Bool, default: false, sweep: true },
  feature_sampling_window: { codec: PositiveInt, default: 2000 },
  dead_feature_window: { codec: PositiveInt, default: 1000 },
  dead_feature_threshold: { codec: NonNegativeNum, default: 1e-8 },
  log_to_wandb: { codec: Bool, default: true },
  log_activations_store_to_wandb: { codec: Bool, default: false },
  log_optimizer_state_to_wandb: { codec: Bool, default: false },
  wandb_project: { codec: NonEmptyStr, default: 'mats_sae_training_language_model' },
  wandb_id: { codec: nullable(NonEmptyStr), default: null },
  run_name: { codec: nullable(NonEmptyStr), default: null },
  wandb_entity: { codec: nullable(NonEmptyStr), default: null },
  wandb_log_frequency: { codec: PositiveInt, default: 10 },
  eval_every_n_wandb_logs: { codec: PositiveInt, default: 100 },
  resume: { codec: Bool, default: false },
  n_checkpoints: { codec: NonNegativeInt, default: 0 },
  checkpoint_path: { codec: NonEmptyStr, default: 'checkpoints' },
  verbose: { codec: Bool, default: true },
  model_kwargs: { codec: StrRecord, default: () => ({}) },
  sae_lens_version: { codec: Str, default: SAE_LENS_VERSION },
  sae_lens_training_version: { codec: Str, default: SAE_LENS_VERSION },
};

/** Keys SAELens writes into cfg.json that are derived, not set: accepted on input, recomputed. */
export const LANGUAGE_MODEL_DERIVED_KEYS = ['tokens_per_buffer', 'total_training_steps', 'run_id'] as const;

/** The sweepable fields (lists there expand into one SAE per combination), in order. */
export const SWEEP_FIELDS: readonly string[] = Object.entries(LANGUAGE_MODEL_FIELDS)
  .filter(([, s]) => s.sweep)
  .map(([k]) => k);

export interface DecodeOptions {
  /** Makes the id appended to checkpoint_path (when wandb_id is null). Default: random, 8 chars. */
  readonly generateId?: () => string;
  /**
   * Append `/{run_id}` to checkpoint_path as SAELens's __post_init__ does (default true). Turn off
   * when re-reading a cfg.json whose checkpoint_path already carries the id.
   */
  readonly appendRunIdToCheckpointPath?: boolean;
}

/** W&B's `generate_id()`: 8 characters of [a-z0-9]. */
export function generateRunId(length = 8): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

/** SAELens's `_default_cached_activations_path`. */
export function defaultCachedActivationsPath(
  datasetPath: string,
  modelName: string,
  hookPoint: string,
  headIndex: number | null,
): string {
  let p = `activations/${datasetPath.replace(/\//g, '_')}/${modelName.replace(/\//g, '_')}/${hookPoint}`;
  if (headIndex !== null) p += `_${headIndex}`;
  return p;
}

/** SAELens's run name: `{d_sae}-L1-{l1_coefficient}-LR-{lr}-Tokens-{training_tokens:3.3e}`. */
export function defaultRunName(c: {
  d_sae: unknown;
  l1_coefficient: unknown;
  lr: unknown;
  training_tokens: number;
}): string {
  return `${pyStr(c.d_sae)}-L1-${pyStr(c.l1_coefficient)}-LR-${pyStr(c.lr)}-Tokens-${pyExp3(c.training_tokens)}`;
}

/** SAELens __post_init__'s two decoder-norm checks, shared by the language-model and toy-model runner configs. */
export function decoderNormProblems(v: Record<string, unknown>): ConfigProblem[] {
  const p: ConfigProblem[] = [];
  if (v.normalize_sae_decoder === true && v.decoder_heuristic_init === true) {
    p.push({
      path: 'normalize_sae_decoder / decoder_heuristic_init',
      message: "you can't normalize the decoder and use heuristic initialization; set one of them to false",
    });
  }
  if (v.normalize_sae_decoder === true && v.scale_sparsity_penalty_by_decoder_norm === true) {
    p.push({
      path: 'normalize_sae_decoder / scale_sparsity_penalty_by_decoder_norm',
      message: 'weighting the sparsity penalty by decoder norm makes no sense when decoder norms are normalized to 1',
    });
  }
  return p;
}

/**
 * Cross-field checks that involve only non-sweep fields or hold for every value of a sweep.
 * Checks on one combination of a sweep are in sweep.ts (`singleConfigProblems`).
 */
function crossFieldProblems(v: Record<string, unknown>, given: ReadonlySet<string>): ConfigProblem[] {
  // SAELens __post_init__ raises these three.
  const p = decoderNormProblems(v);
  if (v.finetuning_method === 'decoder' && v.apply_b_dec_to_input === true) {
    p.push({
      path: 'finetuning_method / apply_b_dec_to_input',
      message: 'fine-tuning the decoder cannot be combined with applying b_dec to the input; set apply_b_dec_to_input to false',
    });
  }
  // d_sae and expansion_factor say the same thing; SAELens silently overwrites d_sae.
  if (given.has('d_sae') && v.d_sae !== null && given.has('expansion_factor')) {
    const dIn = v.d_in as number;
    const efs = ([] as number[]).concat(v.expansion_factor as Sweep<number>);
    const dSaes = ([] as number[]).concat(v.d_sae as Sweep<number>);
    const implied = efs.map((e) => e * dIn);
    if (dSaes.length !== implied.length || dSaes.some((d, i) => d !== implied[i])) {
      p.push({
        path: 'd_sae',
        message:
          `d_sae ${pyStr(v.d_sae)} does not match d_in × expansion_factor = ${dIn} × ${pyStr(v.expansion_factor)}` +
          ` = ${pyStr(implied.length === 1 ? implied[0] : implied)}; give only one of d_sae and expansion_factor`,
      });
    }
  }
  // Hook points.
  const hookPoint = v.hook_point as string;
  const hookProblems = hookNameProblems('hook_point', hookPoint, true);
  p.push(...hookProblems, ...hookNameProblems('hook_point_eval', v.hook_point_eval as string, false));
  if (hookProblems.length === 0) {
    if (Array.isArray(v.hook_point_layer) && v.hook_point_layer.length > 1 && !hookPoint.includes('{layer}')) {
      p.push({
        path: 'hook_point',
        message: `hook_point_layer is a list ${pyStr(v.hook_point_layer)}, so hook_point must contain {layer}, got ${JSON.stringify(hookPoint)}`,
      });
    } else p.push(...hookLayerMismatch(hookPoint, v.hook_point_layer as Sweep<number>, given.has('hook_point_layer')));
  }
  return p;
}

/**
 * Field checks, defaults, __post_init__ checks and derivations; the per-SAE checks of a sweep
 * are added by `decodeLanguageModelSaeRunnerConfig` (runnerConfig.ts).
 */
export function decodeLanguageModelFields(raw: unknown, opts: DecodeOptions = {}): LanguageModelSaeRunnerConfig {
  const what = 'language-model SAE runner config';
  if (!isPlainObject(raw)) {
    throw new RunnerConfigError(what, [{ path: '(root)', message: `expected an object of settings, got ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw}` }]);
  }
  // A SAELens 6 runner config (nested `sae:` block) becomes the flat form first.
  const six = isSaelens6RunnerConfig(raw) ? flattenSaelens6RunnerConfig(raw) : { flat: raw, problems: [] };
  const arch = takeArchitectureFields(six.flat, LANGUAGE_MODEL_FIELDS);
  const archName = typeof six.flat['architecture'] === 'string' ? six.flat['architecture'] : V15_STANDARD;
  const tc = takeTranscoderFields(arch.rest, archName, isTranscoderArchitecture(archName), transcoderArchitectureNames());
  const { values: v, given, problems } = decodeFields(tc.rest, LANGUAGE_MODEL_FIELDS, LANGUAGE_MODEL_DERIVED_KEYS);
  problems.unshift(...six.problems, ...arch.problems, ...tc.problems);
  if (problems.length === 0) problems.push(...crossFieldProblems(v, given));
  if (problems.length === 0 && isTranscoderArchitecture(archName)) {
    Object.assign(v, tc.values);
    problems.push(...finishTranscoderFields(v, tc.given, given));
  }
  if (problems.length > 0) throw new RunnerConfigError(what, problems);
  Object.assign(v, arch.values);

  // A concrete hook point names its layer: take it when hook_point_layer was left at its default.
  const named = layerOfHookName(v.hook_point as string);
  if (named !== undefined && !given.has('hook_point_layer')) v.hook_point_layer = named;

  if (v.use_cached_activations === true && v.cached_activations_path === null) {
    v.cached_activations_path = defaultCachedActivationsPath(
      v.dataset_path as string,
      v.model_name as string,
      v.hook_point as string,
      v.hook_point_head_index as number | null,
    );
  }
  // d_sae: from expansion_factor (SAELens), or expansion_factor from a given d_sae.
  if (given.has('d_sae') && v.d_sae !== null && !given.has('expansion_factor')) {
    const dIn = v.d_in as number;
    v.expansion_factor = Array.isArray(v.d_sae) ? (v.d_sae as number[]).map((d) => d / dIn) : (v.d_sae as number) / dIn;
  } else if (!Array.isArray(v.expansion_factor)) {
    v.d_sae = (v.d_in as number) * (v.expansion_factor as number);
  } else {
    v.d_sae = null;
  }
  v.tokens_per_buffer = (v.train_batch_size as number) * (v.context_size as number) * (v.n_batches_in_buffer as number);
  v.total_training_steps = Math.floor(((v.training_tokens as number) + (v.finetuning_tokens as number)) / (v.train_batch_size as number));
  if (v.run_name === null) v.run_name = defaultRunName(v as never);
  // With a swept lr, lr_end stays null here and is lr/10 per SAE (SAELens would make a list of
  // lr/10 and then sweep it against lr as a separate axis).
  if (v.lr_end === null && !Array.isArray(v.lr)) v.lr_end = (v.lr as number) / 10;
  const runId = (v.wandb_id as string | null) ?? (opts.generateId ?? generateRunId)();
  // the id is a folder name under checkpoint_path: a separator or '..' would put the run elsewhere
  if (/[/\\]/.test(runId) || runId === '.' || runId.includes('..'))
    throw new RunnerConfigError(what, [{ path: 'wandb_id', message: `${JSON.stringify(runId)} names the run's folder under checkpoint_path; it must not contain '/', '\\' or '..'` }]);
  v.run_id = runId;
  if (opts.appendRunIdToCheckpointPath ?? true) v.checkpoint_path = `${v.checkpoint_path as string}/${runId}`;
  return v as unknown as LanguageModelSaeRunnerConfig;
}
