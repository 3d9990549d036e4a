/**
 * cfg.json ↔ SaeConfig. Writes SAELens v1.5.0's flat snake_case cfg (what
 * `SparseAutoencoder.save_model` dumps: the runner config's fields, which the SAE carries in
 * `runnerFields`); reads every generation through folderCfg.ts.
 */
import { readSaeFolderCfg, saeConfigOfFolder } from './folderCfg.js';
import type { SaeConfig } from './SaeConfig.js';

type Json = Record<string, unknown>;

/**
 * SaeConfig field → v1.5 flat cfg key. The transcoder fields have no v1.5 key: transcoders are
 * always written in SAELens 6's layout.
 */
type TranscoderOnly = 'dOut' | 'hookPointOut' | 'hookPointOutLayer' | 'hookPointOutHeadIndex';
const FLAT_KEYS: Record<Exclude<keyof SaeConfig, 'architecture' | 'archFields' | 'normalizeActivations' | 'runnerFields' | TranscoderOnly>, string> = {
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

/**
 * Parses a cfg.json object of any SAELens generation (v1.5 flat, 3.x–5.x flat, 6.x with
 * `metadata`; folderCfg.ts) into the SaeConfig it loads as.
 */
export function saeConfigFromCfgJson(raw: unknown, where = 'cfg.json'): SaeConfig {
  return saeConfigOfFolder(readSaeFolderCfg(raw, where));
}
