/**
 * Every SAELens generation's `cfg.json`, read into one shape. Three generations write it:
 *
 * - **v1.5 flat** (SAELens ≤ 2.x `SparseAutoencoder.save_model`): the whole runner config,
 *   `hook_point`, `activation_fn` (relu | tanh-relu), `normalize_activations` a bool.
 * - **3.x–5.x flat** (`SAEConfig.to_dict`): `architecture` (standard | gated | jumprelu | topk),
 *   `hook_name`, `hook_layer`, `activation_fn_str` + `activation_fn_kwargs` (TopK before the
 *   `topk` architecture: `activation_fn_str: "topk"`, `activation_fn_kwargs: {k}`),
 *   `finetuning_scaling_factor`, `normalize_activations` a string (a bool in early 3.x).
 * - **6.x** (`SAEConfig.to_dict`): `architecture`, `d_in`, `d_sae`, `dtype`,
 *   `apply_b_dec_to_input`, `normalize_activations`, `reshape_activations`, the architecture's
 *   own fields (topk: `k`, `rescale_acts_by_decoder_norm`) and a `metadata` object (model,
 *   `hook_name`, context size, versions, ...).
 *
 * The rules follow SAELens 6's `handle_pre_6_0_config` (loading/pretrained_sae_loaders.py), except
 * where SAELens 6 is silently wrong: a pre-6 `tanh-relu` SAE keeps tanh-relu (SAELens 6's
 * standard SAE is ReLU only). Whatever sae-rx cannot honour — an unknown architecture,
 * normalisation, dtype, activation or reshape — is a ConfigError naming the field and the value.
 */
import { ConfigError } from '../errors.js';
import { isNormalizeActivations, NORMALIZE_ACTIVATIONS, type NormalizeActivations } from './activationNorm.js';
import { tableDefaults } from '../config/fields.js';
import { architectureOf, hasArchitecture } from './architectures/registry.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from './SaeConfig.js';

type Json = Record<string, unknown>;

export type SaelensGeneration = 'v1.5' | 'v3-5' | 'v6';

/**
 * Architectures an SAE folder can hold for inference (SAELens 6 saves batchtopk/matryoshka as
 * jumprelu): SAELens 6's SAEs and transcoders, and sae-rx's TopK transcoders (which SAELens
 * cannot load; a BatchTopK transcoder is saved as a JumpReLU one).
 */
export const FOLDER_ARCHITECTURES = [
  'standard', 'topk', 'jumprelu', 'gated',
  'transcoder', 'skip_transcoder', 'jumprelu_transcoder', 'jumprelu_skip_transcoder', 'topk_transcoder', 'topk_skip_transcoder',
] as const;
export type FolderArchitecture = (typeof FOLDER_ARCHITECTURES)[number];

/** The dtypes weights may be stored in; all are converted to float32 on load. */
export type StoredDtype = 'float32' | 'float64' | 'float16' | 'bfloat16';

export interface SaeFolderCfg {
  readonly generation: SaelensGeneration;
  /** `sae_lens_version` (or the training version) when the file says, else null. */
  readonly saeLensVersion: string | null;
  readonly architecture: FolderArchitecture;
  readonly dIn: number;
  readonly dSae: number;
  readonly applyBDecToInput: boolean;
  readonly normalizeActivations: NormalizeActivations;
  /** The standard SAE's activation (pre-6 files may say tanh-relu); relu for the others. */
  readonly activationFn: 'relu' | 'tanh-relu';
  /** topk: active latents per row. */
  readonly k: number | null;
  /** topk: pre-activations scaled by ‖W_dec,i‖ before the top-k, acts divided by it before decoding. */
  readonly rescaleActsByDecoderNorm: boolean;
  /** 3.x–5.x: a trained `scaling_factor` multiplies the acts before decoding. */
  readonly finetuningScalingFactor: boolean;
  readonly reshapeActivations: 'none' | 'hook_z';
  readonly dtype: StoredDtype;
  readonly modelName: string;
  readonly hookName: string;
  readonly hookLayer: number;
  readonly hookHeadIndex: number | null;
  readonly contextSize: number;
  readonly prependBos: boolean;
  readonly datasetPath: string | null;
  /** Transcoders (SAELens 6 `d_out`): the output width; null for an SAE. */
  readonly dOut: number | null;
  /** Transcoders: the output hook (`hook_name_out`, in metadata or, as SAELens's loaders give it, at the top level), its layer and head. */
  readonly hookNameOut: string | null;
  readonly hookLayerOut: number | null;
  readonly hookHeadIndexOut: number | null;
  /**
   * The v1.5-shaped SaeConfig (standard architecture): for a v1.5 file every field it holds,
   * for the others the inference-relevant ones (ReLU or tanh-relu, no decoder constraint).
   */
  readonly saeConfig: SaeConfig;
}

const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const show = (v: unknown) => JSON.stringify(v) ?? String(v);

function positiveInt(o: Json, key: string, where: string): number {
  const v = o[key];
  if (!(typeof v === 'number' && Number.isInteger(v) && v > 0)) {
    throw new ConfigError(`${where}: "${key}" must be a positive integer, got ${show(v)}`);
  }
  return v;
}

/** o[key] when present and not null, checked; else the fallback. */
function opt<T>(o: Json, key: string, fallback: T, check: (v: unknown) => boolean, expected: string, where: string): T {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (!check(v)) throw new ConfigError(`${where}: "${key}" must be ${expected}, got ${show(v)}`);
  return v as T;
}

const DTYPES: Record<string, StoredDtype> = {
  float32: 'float32', 'torch.float32': 'float32', float: 'float32',
  float64: 'float64', 'torch.float64': 'float64', double: 'float64',
  float16: 'float16', 'torch.float16': 'float16', half: 'float16',
  bfloat16: 'bfloat16', 'torch.bfloat16': 'bfloat16',
};

function storedDtype(o: Json, where: string): StoredDtype {
  const v = o['dtype'];
  if (v === undefined || v === null) return 'float32';
  const d = isStr(v) ? DTYPES[v] : undefined;
  if (!d) {
    throw new ConfigError(
      `${where}: "dtype" ${show(v)} is not supported; expected float32, float64, float16 or bfloat16 (weights are converted to float32 on load)`,
    );
  }
  return d;
}

function normalization(o: Json, where: string): NormalizeActivations {
  const v = o['normalize_activations'];
  if (v === undefined || v === null || v === false) return 'none';
  // SAELens < 3.x wrote a bool; true meant the April-update scaling (handle_pre_6_0_config)
  if (v === true) return 'expected_average_only_in';
  if (isNormalizeActivations(v)) return v;
  throw new ConfigError(`${where}: "normalize_activations" ${show(v)} is not supported; expected one of ${NORMALIZE_ACTIVATIONS.join(', ')}`);
}

function architecture(v: unknown, where: string): FolderArchitecture {
  if ((FOLDER_ARCHITECTURES as readonly unknown[]).includes(v)) return v as FolderArchitecture;
  const hint =
    v === 'batchtopk' || v === 'matryoshka_batchtopk'
      ? ' (SAELens saves those for inference as "jumprelu"; this looks like a training config)'
      : v === 'batchtopk_transcoder' || v === 'batchtopk_skip_transcoder'
        ? ' (sae-rx saves those for inference as "jumprelu_transcoder" / "jumprelu_skip_transcoder"; this looks like a training config)'
        : '';
  throw new ConfigError(`${where}: "architecture" ${show(v)} is not supported${hint}; expected one of ${FOLDER_ARCHITECTURES.join(', ')}`);
}

function reshape(v: unknown, hookName: string, where: string): 'none' | 'hook_z' {
  if (v === undefined || v === null) return hookName.includes('hook_z') ? 'hook_z' : 'none';
  if (v === 'none' || v === 'hook_z') return v;
  throw new ConfigError(`${where}: "reshape_activations" ${show(v)} is not supported; expected none or hook_z`);
}

function layerOf(hookName: string, fallback: number): number {
  const m = /blocks\.(\d+)\./.exec(hookName);
  return m ? Number(m[1]) : fallback;
}

const NO_TRANSCODER = { dOut: null, hookNameOut: null, hookLayerOut: null, hookHeadIndexOut: null } as const;

const isTranscoderArch = (a: FolderArchitecture) => a.endsWith('transcoder');

/**
 * A SAELens 6 transcoder's own fields: `d_out` (top level, as TranscoderConfig.to_dict writes
 * it) and the output hook, read from `metadata` (where SAELens 6 keeps hook_name_out) or the top
 * level (where its pretrained loaders' config dicts put it).
 */
function transcoderFields(o: Json, m: Json, where: string): Pick<SaeFolderCfg, 'dOut' | 'hookNameOut' | 'hookLayerOut' | 'hookHeadIndexOut'> {
  const at = (key: string) => (m[key] !== undefined && m[key] !== null ? m : o);
  const hookNameOut = opt<string | null>(at('hook_name_out'), 'hook_name_out', null, isStr, 'a string', where);
  return {
    dOut: positiveInt(o, 'd_out', where),
    hookNameOut,
    hookLayerOut: opt<number | null>(at('hook_layer_out'), 'hook_layer_out', hookNameOut !== null ? layerOf(hookNameOut, -1) : null, isNum, 'null or a number', where),
    hookHeadIndexOut: opt<number | null>(at('hook_head_index_out'), 'hook_head_index_out', null, isNum, 'null or a number', where),
  };
}

/** Which generation wrote this cfg.json. */
export function cfgGeneration(o: Json): SaelensGeneration {
  if (typeof o['metadata'] === 'object' && o['metadata'] !== null && !Array.isArray(o['metadata'])) return 'v6';
  if ('architecture' in o || 'hook_name' in o || 'activation_fn_str' in o) return 'v3-5';
  return 'v1.5';
}

/** Reads any generation's cfg.json object. `where` names the file in errors. */
export function readSaeFolderCfg(raw: unknown, where = 'cfg.json'): SaeFolderCfg {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected a JSON object`);
  const o = raw as Json;
  const generation = cfgGeneration(o);
  if (generation === 'v1.5') return fromV15(o, where);
  if (generation === 'v3-5') return fromV35(o, where);
  return fromV6(o, where);
}

/** The v1.5 flat cfg as SAELens v1.5 reads it (every SaeConfig field). */
export function saeConfigFromV15(o: Json, where: string): SaeConfig {
  const d = DEFAULT_SAE_CONFIG;
  const actFn = opt<string>(o, 'activation_fn', 'relu', isStr, 'a string', where);
  if (actFn !== 'relu' && actFn !== 'tanh-relu') throw new ConfigError(`${where}: "activation_fn" ${show(actFn)} is not supported, expected relu or tanh-relu`);
  const bDec = opt<string>(o, 'b_dec_init_method', d.bDecInitMethod, isStr, 'a string', where);
  if (bDec !== 'geometric_median' && bDec !== 'mean' && bDec !== 'zeros') {
    throw new ConfigError(`${where}: "b_dec_init_method" ${show(bDec)} unknown, expected geometric_median, mean or zeros`);
  }
  const mseNorm = opt<string | null>(o, 'mse_loss_normalization', null, (v) => v === 'dense_batch', 'null or "dense_batch"', where);
  const layer = o['hook_point_layer'];
  return {
    architecture: 'standard',
    dIn: positiveInt(o, 'd_in', where),
    dSae: positiveInt(o, 'd_sae', where),
    activationFn: actFn,
    applyBDecToInput: opt(o, 'apply_b_dec_to_input', d.applyBDecToInput, isBool, 'a boolean', where),
    normalizeSaeDecoder: opt(o, 'normalize_sae_decoder', d.normalizeSaeDecoder, isBool, 'a boolean', where),
    decoderOrthogonalInit: opt(o, 'decoder_orthogonal_init', false, isBool, 'a boolean', where),
    decoderHeuristicInit: opt(o, 'decoder_heuristic_init', false, isBool, 'a boolean', where),
    initEncoderAsDecoderTranspose: opt(o, 'init_encoder_as_decoder_transpose', false, isBool, 'a boolean', where),
    bDecInitMethod: bDec,
    noiseScale: opt(o, 'noise_scale', 0, isNum, 'a number', where),
    mseLossNormalization: mseNorm === 'dense_batch' ? 'dense_batch' : null,
    lpNorm: opt(o, 'lp_norm', 1, isNum, 'a number', where),
    scaleSparsityPenaltyByDecoderNorm: opt(o, 'scale_sparsity_penalty_by_decoder_norm', false, isBool, 'a boolean', where),
    useGhostGrads: opt(o, 'use_ghost_grads', false, isBool, 'a boolean', where),
    modelName: opt(o, 'model_name', d.modelName, isStr, 'a string', where),
    hookPoint: opt(o, 'hook_point', d.hookPoint, isStr, 'a string', where),
    // a list of layers is a multi-layer run: this SAE's own layer is in its hook_point
    hookPointLayer: typeof layer === 'number' ? layer : layerOf(opt(o, 'hook_point', d.hookPoint, isStr, 'a string', where), d.hookPointLayer),
    hookPointHeadIndex: opt<number | null>(o, 'hook_point_head_index', null, isNum, 'null or a number', where),
    contextSize: opt(o, 'context_size', d.contextSize, isNum, 'a number', where),
    prependBos: opt(o, 'prepend_bos', d.prependBos, isBool, 'a boolean', where),
    dtype: 'float32',
    seed: opt(o, 'seed', d.seed, isNum, 'a number', where),
  };
}

function fromV15(o: Json, where: string): SaeFolderCfg {
  const c = saeConfigFromV15(o, where);
  return {
    generation: 'v1.5',
    saeLensVersion: opt<string | null>(o, 'sae_lens_version', null, isStr, 'a string', where),
    architecture: 'standard',
    dIn: c.dIn,
    dSae: c.dSae,
    applyBDecToInput: c.applyBDecToInput,
    normalizeActivations: normalization(o, where),
    activationFn: c.activationFn,
    k: null,
    rescaleActsByDecoderNorm: false,
    finetuningScalingFactor: true, // v1.5 always holds and applies scaling_factor
    reshapeActivations: reshape(undefined, c.hookPoint, where),
    dtype: storedDtype(o, where),
    modelName: c.modelName,
    hookName: c.hookPoint,
    hookLayer: c.hookPointLayer,
    hookHeadIndex: c.hookPointHeadIndex,
    contextSize: c.contextSize,
    prependBos: c.prependBos,
    datasetPath: opt<string | null>(o, 'dataset_path', null, isStr, 'a string', where),
    ...NO_TRANSCODER,
    saeConfig: c,
  };
}

/** A non-v1.5 SAE's SaeConfig: the inference fields; training fields at SAELens 6's meaning. */
function inferenceSaeConfig(c: Omit<SaeFolderCfg, 'saeConfig'>): SaeConfig {
  return {
    ...DEFAULT_SAE_CONFIG,
    architecture: 'standard',
    dIn: c.dIn,
    dSae: c.dSae,
    activationFn: c.activationFn,
    applyBDecToInput: c.applyBDecToInput,
    normalizeSaeDecoder: false,
    modelName: c.modelName,
    hookPoint: c.hookName,
    hookPointLayer: c.hookLayer,
    hookPointHeadIndex: c.hookHeadIndex,
    contextSize: c.contextSize,
    prependBos: c.prependBos,
    ...(c.dOut !== null ? { dOut: c.dOut } : {}),
    ...(c.hookNameOut !== null ? { hookPointOut: c.hookNameOut, hookPointOutHeadIndex: c.hookHeadIndexOut, ...(c.hookLayerOut !== null ? { hookPointOutLayer: c.hookLayerOut } : {}) } : {}),
  };
}

function fromV35(o: Json, where: string): SaeFolderCfg {
  const d = DEFAULT_SAE_CONFIG;
  // `activation_fn` was renamed to `activation_fn_str` in 3.0; accept either as SAELens does
  const actKey = 'activation_fn_str' in o ? 'activation_fn_str' : 'activation_fn';
  const act = opt<string>(o, actKey, 'relu', isStr, 'a string', where);
  const kwargs = opt<Json>(o, 'activation_fn_kwargs', {}, (v) => typeof v === 'object' && !Array.isArray(v), 'an object', where);
  let arch = architecture(o['architecture'] ?? 'standard', where);
  let k: number | null = null;
  if (act === 'topk') {
    const kv = kwargs['k'];
    if (!(typeof kv === 'number' && Number.isInteger(kv) && kv > 0)) {
      throw new ConfigError(`${where}: "${actKey}" is "topk" but "activation_fn_kwargs.k" is ${show(kv)}, expected a positive integer`);
    }
    if (arch !== 'standard' && arch !== 'topk') throw new ConfigError(`${where}: "${actKey}" "topk" cannot go with "architecture" ${show(arch)}`);
    arch = 'topk';
    k = kv;
  } else if (act === 'tanh-relu') {
    if (arch !== 'standard') throw new ConfigError(`${where}: "${actKey}" "tanh-relu" is only supported for the standard architecture, not ${show(arch)}`);
  } else if (act !== 'relu') {
    throw new ConfigError(`${where}: "${actKey}" ${show(act)} is not supported; expected relu, tanh-relu or topk`);
  } else if (arch === 'topk') {
    throw new ConfigError(`${where}: "architecture" "topk" needs "${actKey}": "topk" with "activation_fn_kwargs": {"k": ...}, got ${show(act)}`);
  }
  const hookName = opt<string>(o, 'hook_name', opt<string>(o, 'hook_point', d.hookPoint, isStr, 'a string', where), isStr, 'a string', where);
  const version = opt<string | null>(o, 'sae_lens_version', opt<string | null>(o, 'sae_lens_training_version', null, isStr, 'a string', where), isStr, 'a string', where);
  const base = {
    generation: 'v3-5' as const,
    saeLensVersion: version,
    architecture: arch,
    dIn: positiveInt(o, 'd_in', where),
    dSae: positiveInt(o, 'd_sae', where),
    applyBDecToInput: opt(o, 'apply_b_dec_to_input', true, isBool, 'a boolean', where),
    normalizeActivations: normalization(o, where),
    activationFn: act === 'tanh-relu' ? ('tanh-relu' as const) : ('relu' as const),
    k,
    rescaleActsByDecoderNorm: false,
    finetuningScalingFactor: opt(o, 'finetuning_scaling_factor', false, isBool, 'a boolean', where),
    reshapeActivations: reshape(o['reshape_activations'], hookName, where),
    dtype: storedDtype(o, where),
    modelName: opt(o, 'model_name', d.modelName, isStr, 'a string', where),
    hookName,
    hookLayer: opt(o, 'hook_layer', opt(o, 'hook_point_layer', layerOf(hookName, d.hookPointLayer), isNum, 'a number', where), isNum, 'a number', where),
    hookHeadIndex: opt<number | null>(o, 'hook_head_index', opt<number | null>(o, 'hook_point_head_index', null, isNum, 'a number', where), isNum, 'null or a number', where),
    contextSize: opt(o, 'context_size', d.contextSize, isNum, 'a number', where),
    prependBos: opt(o, 'prepend_bos', true, isBool, 'a boolean', where),
    datasetPath: opt<string | null>(o, 'dataset_path', null, isStr, 'a string', where),
    ...NO_TRANSCODER,
  };
  return { ...base, saeConfig: inferenceSaeConfig(base) };
}

function fromV6(o: Json, where: string): SaeFolderCfg {
  const d = DEFAULT_SAE_CONFIG;
  const m = o['metadata'] as Json;
  const mw = `${where} metadata`;
  const arch = architecture(o['architecture'], where);
  let k: number | null = null;
  let rescale = false;
  if (arch === 'topk' || arch === 'topk_transcoder' || arch === 'topk_skip_transcoder') {
    const kv = o['k'];
    if (!(typeof kv === 'number' && Number.isInteger(kv) && kv > 0)) throw new ConfigError(`${where}: "k" must be a positive integer for architecture "${arch}", got ${show(kv)}`);
    k = kv;
    rescale = opt(o, 'rescale_acts_by_decoder_norm', false, isBool, 'a boolean', where);
  }
  const hookName = opt<string>(m, 'hook_name', d.hookPoint, isStr, 'a string', mw);
  const base = {
    generation: 'v6' as const,
    saeLensVersion: opt<string | null>(m, 'sae_lens_version', opt<string | null>(m, 'sae_lens_training_version', null, isStr, 'a string', mw), isStr, 'a string', mw),
    architecture: arch,
    dIn: positiveInt(o, 'd_in', where),
    dSae: positiveInt(o, 'd_sae', where),
    applyBDecToInput: opt(o, 'apply_b_dec_to_input', true, isBool, 'a boolean', where),
    normalizeActivations: normalization(o, where),
    activationFn: 'relu' as const,
    k,
    rescaleActsByDecoderNorm: rescale,
    finetuningScalingFactor: false,
    reshapeActivations: reshape(o['reshape_activations'], hookName, where),
    dtype: storedDtype(o, where),
    modelName: opt(m, 'model_name', d.modelName, isStr, 'a string', mw),
    hookName,
    hookLayer: layerOf(hookName, d.hookPointLayer),
    hookHeadIndex: opt<number | null>(m, 'hook_head_index', null, isNum, 'null or a number', mw),
    contextSize: opt(m, 'context_size', d.contextSize, isNum, 'a number', mw),
    prependBos: opt(m, 'prepend_bos', d.prependBos, isBool, 'a boolean', mw),
    datasetPath: opt<string | null>(m, 'dataset_path', null, isStr, 'a string', mw),
    ...(isTranscoderArch(arch) ? transcoderFields(o, m, where) : NO_TRANSCODER),
  };
  return { ...base, saeConfig: inferenceSaeConfig(base) };
}

/** The fields of architecture `name` with their defaults, `given` over them (the loaded SAE's archFields). */
function archFieldsOf(name: string, given: Record<string, unknown>): Record<string, unknown> {
  return { ...tableDefaults(architectureOf(name).fields), ...given };
}

/** The registry architecture and SaeConfig an SAE folder's config loads as. */
export function saeConfigOfFolder(fc: SaeFolderCfg): SaeConfig {
  const base: SaeConfig = { ...fc.saeConfig, ...(fc.normalizeActivations !== 'none' ? { normalizeActivations: fc.normalizeActivations } : {}) };
  switch (fc.architecture) {
    case 'standard':
      // v1.5 and 3.x–5.x standard SAEs are v1.5's SAE at inference (ReLU or tanh-relu,
      // scaling_factor); SAELens 6's standard SAE is its own architecture when registered
      return fc.generation === 'v6' && hasArchitecture('standard_v6') ? { ...base, architecture: 'standard_v6', archFields: archFieldsOf('standard_v6', {}) } : base;
    case 'topk':
    case 'topk_transcoder':
    case 'topk_skip_transcoder':
      return { ...base, architecture: fc.architecture, archFields: archFieldsOf(fc.architecture, { k: fc.k, rescale_acts_by_decoder_norm: fc.rescaleActsByDecoderNorm }) };
    default:
      return { ...base, architecture: fc.architecture, archFields: archFieldsOf(fc.architecture, {}) };
  }
}
