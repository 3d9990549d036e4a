/**
 * SAELens v1.5.0's `CacheActivationsRunnerConfig`: run the model over the dataset and store
 * the hook's activations in shuffled shards. Same model/data/store fields as the language-model
 * runner, plus the shuffling schedule; new_cached_activations_path defaults as SAELens.
 */
import {
  Bool, Int, NonEmptyStr, NonNegativeInt, PositiveInt, StrRecord, nullable, oneOf,
} from './codecs.js';
import { type FieldTable, RunnerConfigError, decodeFields, isPlainObject } from './fields.js';
import { hookLayerMismatch, hookNameProblems, layerOfHookName } from './hookPoint.js';
import { TRANSCODER_FIELDS, finishTranscoderFields } from './transcoderFields.js';
import {
  LANGUAGE_MODEL_FIELDS, MODEL_CLASS_NAMES, type NORMALIZE_ACTIVATIONS, type Sweep, defaultCachedActivationsPath,
} from './languageModelRunnerConfig.js';

export interface CacheActivationsRunnerConfig {
  model_name: string;
  model_class_name: (typeof MODEL_CLASS_NAMES)[number];
  hook_point: string;
  hook_point_layer: Sweep<number>;
  hook_point_head_index: number | null;
  dataset_path: string;
  streaming: boolean;
  is_dataset_tokenized: boolean;
  context_size: number;
  /** Derived when null: activations/{dataset}/{model}/{hook_point}[_{head}]. */
  new_cached_activations_path: string;
  /** Unused by the cache runner (it writes, never reads); kept for SAELens compatibility. */
  cached_activations_path: string | null;
  d_in: number;
  n_batches_in_buffer: number;
  training_tokens: number;
  store_batch_size: number;
  train_batch_size: number;
  normalize_activations: boolean | (typeof NORMALIZE_ACTIVATIONS)[number];
  device: string;
  seed: number;
  dtype: 'float32';
  prepend_bos: boolean;
  shuffle_every_n_buffers: number;
  n_shuffles_with_last_section: number;
  n_shuffles_in_entire_dir: number;
  n_shuffles_final: number;
  model_kwargs: Record<string, unknown>;
  /**
   * Transcoder caches: a second hook of the same forward pass stored as each shard's `target`
   * (SAELens 6's `hook_name_out`, with `hook_head_index_out`; `d_out` when given is checked
   * against the model). Present only when hook_name_out is given.
   */
  hook_name_out?: string;
  hook_layer_out?: number | null;
  hook_head_index_out?: number | null;
  d_out?: number | null;
}

const lm = LANGUAGE_MODEL_FIELDS;

export const CACHE_ACTIVATIONS_FIELDS: FieldTable = {
  model_name: lm.model_name!,
  model_class_name: { codec: oneOf(MODEL_CLASS_NAMES), default: 'HookedTransformer' },
  hook_point: lm.hook_point!,
  hook_point_layer: lm.hook_point_layer!,
  hook_point_head_index: lm.hook_point_head_index!,
  dataset_path: lm.dataset_path!,
  streaming: lm.streaming!,
  is_dataset_tokenized: lm.is_dataset_tokenized!,
  context_size: lm.context_size!,
  new_cached_activations_path: { codec: nullable(NonEmptyStr), default: null },
  cached_activations_path: lm.cached_activations_path!,
  d_in: lm.d_in!,
  n_batches_in_buffer: lm.n_batches_in_buffer!,
  training_tokens: lm.training_tokens!,
  store_batch_size: lm.store_batch_size!,
  train_batch_size: lm.train_batch_size!,
  normalize_activations: lm.normalize_activations!,
  device: lm.device!,
  seed: { codec: Int, default: 42 },
  dtype: lm.dtype!,
  prepend_bos: { codec: Bool, default: true },
  shuffle_every_n_buffers: { codec: PositiveInt, default: 10 },
  n_shuffles_with_last_section: { codec: NonNegativeInt, default: 10 },
  n_shuffles_in_entire_dir: { codec: NonNegativeInt, default: 10 },
  n_shuffles_final: { codec: NonNegativeInt, default: 100 },
  model_kwargs: { codec: StrRecord, default: () => ({}) },
};

/** Decodes a CacheActivationsRunnerConfig; throws a RunnerConfigError listing every problem. */
export function decodeCacheActivationsRunnerConfig(raw: unknown): CacheActivationsRunnerConfig {
  const what = 'cache-activations runner config';
  if (!isPlainObject(raw)) {
    throw new RunnerConfigError(what, [{ path: '(root)', message: `expected an object of settings, got ${raw === null ? 'null' : typeof raw}` }]);
  }
  // the transcoder fields: decoded apart, kept only when the cache stores a target
  const own: Record<string, unknown> = {};
  const rest: Record<string, unknown> = { ...raw };
  for (const k of Object.keys(TRANSCODER_FIELDS)) if (k in rest) {
    own[k] = rest[k];
    delete rest[k];
  }
  const tc = decodeFields(own, TRANSCODER_FIELDS);
  const { values: v, given, problems } = decodeFields(rest, CACHE_ACTIVATIONS_FIELDS);
  problems.push(...tc.problems);
  const withTarget = tc.values.hook_name_out !== null && tc.problems.length === 0;
  if (tc.problems.length === 0 && !withTarget) {
    for (const k of ['d_out', 'hook_layer_out', 'hook_head_index_out'])
      if (tc.values[k] !== null) problems.push({ path: k, message: 'is a transcoder field for the target hook; give hook_name_out (the hook to store as each shard\'s target) or remove it' });
  }
  if (withTarget) problems.push(...hookNameProblems('hook_name_out', tc.values.hook_name_out as string, true));
  if (problems.length === 0) {
    problems.push(
      ...hookNameProblems('hook_point', v.hook_point as string, true),
      ...hookLayerMismatch(v.hook_point as string, v.hook_point_layer as Sweep<number>, given.has('hook_point_layer')),
    );
  }
  if (problems.length > 0) throw new RunnerConfigError(what, problems);
  const named = layerOfHookName(v.hook_point as string);
  if (named !== undefined && !given.has('hook_point_layer')) v.hook_point_layer = named;
  if (withTarget) {
    const dOutGiven = tc.values.d_out !== null;
    Object.assign(v, tc.values);
    const tcProblems = finishTranscoderFields(v, tc.given);
    if (!dOutGiven) v.d_out = null;
    if (tcProblems.length > 0) throw new RunnerConfigError(what, tcProblems);
  }
  if (v.new_cached_activations_path === null) {
    v.new_cached_activations_path = defaultCachedActivationsPath(
      v.dataset_path as string,
      v.model_name as string,
      v.hook_point as string,
      v.hook_point_head_index as number | null,
    );
  }
  return v as unknown as CacheActivationsRunnerConfig;
}
