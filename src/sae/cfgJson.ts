/**
 * cfg.json ↔ SaeConfig. Writes SAELens v1.5.0's flat snake_case cfg (what
 * `SparseAutoencoder.save_model` dumps: the runner config's fields); reads that and the newer
 * (v6) cfg with `architecture` and a `metadata` object.
 */
import { ConfigError } from '../errors.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from './SaeConfig.js';

type Json = Record<string, unknown>;

/** SaeConfig field → v1.5 flat cfg key. */
const FLAT_KEYS: Record<Exclude<keyof SaeConfig, 'architecture' | 'archFields'>, string> = {
  dIn: 'd_in',
  dSae: 'd_sae',
  activationFn: 'activation_fn',
  applyBDecToInput: 'apply_b_dec_to_input',
  normalizeSaeDecoder: 'normalize_sae_decoder',
  decoderOrthogonalInit: 'decoder_orthogonal_init',
  decoderHeuristicInit: 'decoder_heuristic_init',
  initEncoderAsDecoderTranspose: 'init_encoder_as_decoder_transpose',
  bDecInitMethod: 'b_dec_init_method',
  noiseScale: 'noise_scale',
  mseLossNormalization: 'mse_loss_normalization',
  lpNorm: 'lp_norm',
  scaleSparsityPenaltyByDecoderNorm: 'scale_sparsity_penalty_by_decoder_norm',
  useGhostGrads: 'use_ghost_grads',
  modelName: 'model_name',
  hookPoint: 'hook_point',
  hookPointLayer: 'hook_point_layer',
  hookPointHeadIndex: 'hook_point_head_index',
  contextSize: 'context_size',
  prependBos: 'prepend_bos',
  dtype: 'dtype',
  seed: 'seed',
};

/** The v1.5 flat cfg.json object for cfg; `extra` (runner/trainer fields) is merged in last. */
export function saeConfigToCfgJson(cfg: SaeConfig, extra: Json = {}): Json {
  const out: Json = {};
  for (const [field, key] of Object.entries(FLAT_KEYS)) out[key] = cfg[field as keyof SaeConfig];
  // SAELens writes str(torch.float32) and the device it trained on.
  out['dtype'] = 'torch.float32';
  out['device'] = 'cpu';
  out['expansion_factor'] = cfg.dSae / cfg.dIn;
  out['sae_lens_version'] = '1.5.0';
  out['sae_lens_training_version'] = '1.5.0';
  return { ...out, ...extra };
}

function num(o: Json, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${where}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function opt<T>(o: Json, key: string, fallback: T, check: (v: unknown) => boolean, where: string): T {
  if (!(key in o) || o[key] === undefined) return fallback;
  const v = o[key];
  if (!check(v)) throw new ConfigError(`${where}: "${key}" has an unexpected value ${JSON.stringify(v)}`);
  return v as T;
}

const isBool = (v: unknown) => typeof v === 'boolean';
const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown) => typeof v === 'string';

function checkDtype(v: unknown, where: string): void {
  if (v === undefined) return;
  if (v !== 'float32' && v !== 'torch.float32') {
    throw new ConfigError(`${where}: "dtype" ${JSON.stringify(v)} is not supported (sae-rx computes in float32; weights are converted on load)`);
  }
}

/** Parses a cfg.json object (v1.5 flat or v6 architecture+metadata) into a SaeConfig. */
export function saeConfigFromCfgJson(raw: unknown, where = 'cfg.json'): SaeConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected a JSON object`);
  const o = raw as Json;
  const d = DEFAULT_SAE_CONFIG;
  if ('architecture' in o && typeof o['metadata'] === 'object' && o['metadata'] !== null) {
    // v6: { architecture, d_in, d_sae, apply_b_dec_to_input, normalize_activations, metadata: {...} }
    if (o['architecture'] !== 'standard') {
      throw new ConfigError(`${where}: architecture "${String(o['architecture'])}" is not supported, expected "standard"`);
    }
    const m = o['metadata'] as Json;
    const hookName = opt<string>(m, 'hook_name', d.hookPoint, isStr, `${where} metadata`);
    const layer = /blocks\.(\d+)\./.exec(hookName);
    return {
      ...d,
      architecture: 'standard',
      dIn: num(o, 'd_in', where),
      dSae: num(o, 'd_sae', where),
      applyBDecToInput: opt(o, 'apply_b_dec_to_input', true, isBool, where),
      // v6 standard SAEs are relu SAEs whose decoder norm is kept by training, not a flag
      activationFn: 'relu',
      normalizeSaeDecoder: false,
      modelName: opt(m, 'model_name', d.modelName, isStr, `${where} metadata`),
      hookPoint: hookName,
      hookPointLayer: layer ? Number(layer[1]) : d.hookPointLayer,
      hookPointHeadIndex: opt<number | null>(m, 'hook_head_index', null, (v) => v === null || isNum(v), `${where} metadata`),
      contextSize: opt(m, 'context_size', d.contextSize, (v) => v === null || isNum(v), `${where} metadata`) ?? d.contextSize,
      prependBos: opt(m, 'prepend_bos', d.prependBos, (v) => v === null || isBool(v), `${where} metadata`) ?? d.prependBos,
      dtype: (checkDtype(o['dtype'], where), 'float32'),
    };
  }
  checkDtype(o['dtype'], where);
  const actFn = opt<string>(o, 'activation_fn', 'relu', isStr, where);
  if (actFn !== 'relu' && actFn !== 'tanh-relu') throw new ConfigError(`${where}: "activation_fn" "${actFn}" is not supported, expected relu or tanh-relu`);
  const bDec = opt<string>(o, 'b_dec_init_method', d.bDecInitMethod, isStr, where);
  if (bDec !== 'geometric_median' && bDec !== 'mean' && bDec !== 'zeros') {
    throw new ConfigError(`${where}: "b_dec_init_method" "${bDec}" unknown, expected geometric_median, mean or zeros`);
  }
  const mseNorm = opt<string | null>(o, 'mse_loss_normalization', null, (v) => v === null || v === 'dense_batch', where);
  const layer = o['hook_point_layer'];
  return {
    architecture: 'standard',
    dIn: num(o, 'd_in', where),
    dSae: num(o, 'd_sae', where),
    activationFn: actFn,
    applyBDecToInput: opt(o, 'apply_b_dec_to_input', d.applyBDecToInput, isBool, where),
    normalizeSaeDecoder: opt(o, 'normalize_sae_decoder', d.normalizeSaeDecoder, isBool, where),
    decoderOrthogonalInit: opt(o, 'decoder_orthogonal_init', false, isBool, where),
    decoderHeuristicInit: opt(o, 'decoder_heuristic_init', false, isBool, where),
    initEncoderAsDecoderTranspose: opt(o, 'init_encoder_as_decoder_transpose', false, isBool, where),
    bDecInitMethod: bDec,
    noiseScale: opt(o, 'noise_scale', 0, isNum, where),
    mseLossNormalization: mseNorm === 'dense_batch' ? 'dense_batch' : null,
    lpNorm: opt(o, 'lp_norm', 1, isNum, where),
    scaleSparsityPenaltyByDecoderNorm: opt(o, 'scale_sparsity_penalty_by_decoder_norm', false, isBool, where),
    useGhostGrads: opt(o, 'use_ghost_grads', false, isBool, where),
    modelName: opt(o, 'model_name', d.modelName, isStr, where),
    hookPoint: opt(o, 'hook_point', d.hookPoint, isStr, where),
    hookPointLayer: typeof layer === 'number' ? layer : d.hookPointLayer,
    hookPointHeadIndex: opt<number | null>(o, 'hook_point_head_index', null, (v) => v === null || isNum(v), where),
    contextSize: opt(o, 'context_size', d.contextSize, isNum, where),
    prependBos: opt(o, 'prepend_bos', d.prependBos, isBool, where),
    dtype: 'float32',
    seed: opt(o, 'seed', d.seed, isNum, where),
  };
}
