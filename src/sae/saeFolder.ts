/**
 * An SAE on disk in SAELens's layout (DESIGN.md §6):
 *   cfg.json                 the config, in the layout of the SAELens generation that can load it
 *   sae_weights.safetensors  the parameters under SAELens's names
 *   sparsity.safetensors     sparsity [d_sae] = log10(feature frequency + 1e-10) (optional)
 *   runner_cfg.json          (SAELens 6 layout only) the runner fields the SAE was trained with
 *
 * Read: every generation SAELens wrote (v1.5 flat, 3.x–5.x flat, 6.x with `metadata`; see
 * folderCfg.ts), weights in F64/F32/F16/BF16 converted to float32 (folderWeights.ts), the
 * `normalize_activations` mode applied at inference as SAELens applies it (activationNorm.ts).
 *
 * Write:
 * - v1.5's `standard` SAE: SAELens v1.5's layout (flat cfg.json holding every runner field the
 *   SAE carries in `runnerFields`, W_enc b_enc W_dec b_dec scaling_factor), which SAELens v1.5
 *   through 6 load. v1.5 derives d_sae = d_in × expansion_factor and cannot load a d_sae that is
 *   not a multiple of d_in: such an SAE is written in SAELens 6's layout as a `standard` SAE
 *   (ReLU; scaling_factor folded into W_dec rows), and a tanh-relu one is refused, because no
 *   SAELens generation that reads that layout computes tanh-relu (checkSaeFolderWritable says so
 *   before training starts).
 * - every other architecture: SAELens 6's layout (cfg.json with `architecture`, its inference
 *   fields and `metadata`; weights as the architecture's `toInference` names them, e.g.
 *   BatchTopK saved as `jumprelu` with its threshold).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ShapeError } from '../errors.js';
import { writeDirAtomic } from '../io/atomicWrite.js';
import { SafetensorsFile, encodeSafetensors, type RawTensor } from '../io/safetensors.js';
import type { NormalizeActivations } from './activationNorm.js';
import { architectureOf } from './architectures/registry.js';
import { saeConfigToCfgJson } from './cfgJson.js';
import { isGemmaScopeFolder, loadGemmaScopeTranscoder } from './gemmaScopeTranscoder.js';
import { Sae, type SaeSnapshot } from './Sae.js';
import type { SaeConfig } from './SaeConfig.js';
import { cfgDSae, checkSparsityShape } from './weightChecks.js';

export { saeFolderLayout, checkSaeFolderWritable } from './saeFolderLayout.js';
import { saeFolderLayout } from './saeFolderLayout.js';

export { loadSaeFrom, type LoadSaeOptions } from './saeFolderLoad.js';
export { SAE_CFG_PATH, SAE_WEIGHTS_PATH, SPARSITY_PATH } from './saeFolderFiles.js';
import { loadSaeFrom, type LoadSaeOptions } from './saeFolderLoad.js';
import { SAE_CFG_PATH, SAE_WEIGHTS_PATH, SPARSITY_PATH } from './saeFolderFiles.js';
import { diskFolder } from '../io/folder.js';

export const RUNNER_CFG_PATH = 'runner_cfg.json';

/** The SAELens version whose layout the SAELens 6 writer follows (threshold as the JumpReLU parameter). */
export const SAELENS_6_LAYOUT_VERSION = '6.48.0';

export interface WriteSaeFolderOptions {
  /** Feature activation frequency per feature (SaeTrainer.featureSparsity()); written as log10(f + 1e-10). */
  sparsity?: Float32Array;
  /** Already log10 sparsity, written as is (takes precedence over `sparsity`). */
  logSparsity?: Float32Array;
  /**
   * The activation norm-scaling factor s the SAE was trained with (inputs were x·s). Folded into
   * the weights (W_enc·s, W_dec/s, b_dec/s, as SAELens's fold_activation_norm_scaling_factor) so
   * the saved SAE works on raw activations.
   */
  normScalingFactor?: number;
  /**
   * Transcoders: the norm-scaling factor s_out of the target (targets were y·s_out; absent: not
   * scaled). With the input's s_in (normScalingFactor, absent: 1) the saved transcoder works on
   * raw x and y: ŷ·(1/s_out) = f(x·s_in W_enc + b_enc) W_dec/s_out + b_dec/s_out + x (s_in/s_out) W_skipᵀ,
   * so W_enc·s_in, W_dec/s_out, b_dec/s_out, W_skip·s_in/s_out; b_enc and the JumpReLU threshold
   * see the same pre-activations and stay; TopK's selection on h·‖W_dec,i‖ is scaled by the
   * same 1/s_out for every latent and keeps its order (foldNormScaling).
   */
  targetNormScalingFactor?: number;
  /** Extra cfg.json keys (snake_case), merged over the SAE's own (v1.5 layout) or into metadata (v6). */
  extraCfg?: Record<string, unknown>;
}

/** log10(freq + 1e-10) in float32, as SAELens's _log_feature_sparsity. */
export function logFeatureSparsity(freq: Float32Array): Float32Array {
  const out = new Float32Array(freq.length);
  for (let i = 0; i < freq.length; i++) out[i] = Math.log10(Math.fround(freq[i]! + 1e-10));
  return out;
}

function scaled(a: Float32Array, by: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * by;
  return out;
}

function positiveFactor(name: string, v: number): number {
  if (!(v > 0 && Number.isFinite(v))) throw new ShapeError(`writeSaeFolder: ${name} must be a positive number, got ${v}`);
  return v;
}

/**
 * Folds the norm-scaling factors the SAE was trained with into its inference weights `w` (in
 * place), so that it works on raw activations: an SAE's s (W_enc·s, W_dec/s, b_dec/s, as
 * SAELens's fold_activation_norm_scaling_factor), a transcoder's s_in and s_out
 * (WriteSaeFolderOptions.targetNormScalingFactor says how). True when something was folded.
 */
function foldNormScaling(cfg: SaeConfig, saved: string, w: Record<string, { shape: number[]; data: Float32Array }>, opts: WriteSaeFolderOptions): boolean {
  const transcoder = architectureOf(cfg.architecture).transcoder === true;
  if (!transcoder && opts.targetNormScalingFactor !== undefined) {
    throw new ShapeError(`writeSaeFolder: targetNormScalingFactor is for transcoders; '${cfg.architecture}' reconstructs its input (pass normScalingFactor only)`);
  }
  if (opts.normScalingFactor === undefined && opts.targetNormScalingFactor === undefined) return false;
  const sIn = positiveFactor('normScalingFactor', opts.normScalingFactor ?? 1);
  // an SAE's output is its input's space: the same factor on both sides
  const sOut = transcoder ? positiveFactor('targetNormScalingFactor', opts.targetNormScalingFactor ?? 1) : sIn;
  const by: Array<[string, number]> = [['W_enc', sIn], ['W_dec', 1 / sOut], ['b_dec', 1 / sOut]];
  if (w['W_skip']) by.push(['W_skip', sIn / sOut]);
  for (const [k, f] of by) {
    const t = w[k];
    if (!t) throw new ShapeError(`writeSaeFolder: cannot fold the norm scaling factor: '${saved}' has no ${k}`);
    w[k] = { shape: t.shape, data: scaled(t.data, f) };
  }
  return true;
}

interface FolderContent {
  cfgJson: Record<string, unknown>;
  weights: Record<string, RawTensor>;
  runnerCfg?: Record<string, unknown>;
}

function v6Metadata(cfg: SaeConfig, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    sae_lens_version: SAELENS_6_LAYOUT_VERSION,
    sae_lens_training_version: SAELENS_6_LAYOUT_VERSION,
    written_by: 'sae-rx',
    model_name: cfg.modelName,
    hook_name: cfg.hookPoint,
    hook_head_index: cfg.hookPointHeadIndex,
    context_size: cfg.contextSize,
    prepend_bos: cfg.prependBos,
    ...pick(cfg.runnerFields, ['dataset_path', 'model_class_name', 'model_from_pretrained_kwargs', 'seqpos_slice']),
    ...(cfg.hookPointOut !== undefined
      ? { hook_name_out: cfg.hookPointOut, hook_layer_out: cfg.hookPointOutLayer ?? layerOfHook(cfg.hookPointOut), hook_head_index_out: cfg.hookPointOutHeadIndex ?? null }
      : {}),
    ...(cfg.architecture !== 'standard' ? { training_architecture: cfg.architecture, training_architecture_details: { ...(cfg.archFields ?? {}) } } : {}),
    ...extra,
  };
}

/** The layer in a TransformerLens hook name (blocks.L.…), else null. */
function layerOfHook(hook: string): number | null {
  const m = /blocks\.(\d+)\./.exec(hook);
  return m ? Number(m[1]) : null;
}

function pick(o: Readonly<Record<string, unknown>> | undefined, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o && o[k] !== undefined) out[k] = o[k];
  return out;
}

function folderContent(snap: SaeSnapshot, opts: WriteSaeFolderOptions): FolderContent {
  const cfg = snap.cfg;
  const { dIn, dSae } = cfg;
  const layout = saeFolderLayout(cfg);
  const arch = architectureOf(cfg.architecture);
  for (const spec of arch.params(cfg)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const a = snap.params[spec.name];
    if (!a || a.length !== n) throw new ShapeError(`writeSaeFolder: ${spec.name} has ${a?.length ?? 0} values, expected ${n} (d_in ${dIn}, d_sae ${dSae})`);
  }
  const inf = arch.toInference(cfg, snap.params, snap.state);
  const w: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of Object.entries(inf.weights)) w[k] = { shape: [...v.shape], data: v.data };
  const folded = foldNormScaling(cfg, inf.architecture, w, opts);
  // the saved weights work on raw activations once the factor is folded in
  const normalize: NormalizeActivations = folded ? 'none' : (cfg.normalizeActivations ?? 'none');
  if (layout === 'v1.5') {
    const cfgJson = {
      ...saeConfigToCfgJson(cfg, { ...v15RunnerFields(cfg.runnerFields), ...(folded ? { normalize_activations: false } : {}) }),
      ...opts.extraCfg,
    };
    return { cfgJson, weights: f32(w) };
  }
  if (cfg.architecture === 'standard') {
    // a v1.5 SAE in SAELens 6's layout: its fine-tuned scaling_factor folded into the decoder rows
    const sf = w['scaling_factor']!.data;
    const W_dec = w['W_dec']!.data.slice();
    for (let i = 0; i < dSae; i++) for (let j = 0; j < dIn; j++) W_dec[i * dIn + j] = W_dec[i * dIn + j]! * sf[i]!;
    w['W_dec'] = { shape: [dSae, dIn], data: W_dec };
    delete w['scaling_factor'];
  }
  const cfgJson = {
    d_in: dIn,
    d_sae: dSae,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: cfg.applyBDecToInput,
    normalize_activations: normalize,
    reshape_activations: cfg.hookPoint.includes('hook_z') ? 'hook_z' : 'none',
    ...inf.cfg,
    metadata: v6Metadata(cfg, opts.extraCfg ?? {}),
    architecture: inf.architecture,
  };
  return { cfgJson, weights: f32(w), ...(cfg.runnerFields ? { runnerCfg: { ...cfg.runnerFields } } : {}) };
}

/** Runner fields for a v1.5 cfg.json: all but what SAELens v1.5 writes in its own form (dtype as str(torch dtype), device). */
function v15RunnerFields(r: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const { dtype: _dtype, device: _device, ...rest } = r ?? {};
  return rest;
}

function f32(w: Record<string, { shape: number[]; data: Float32Array }>): Record<string, RawTensor> {
  const out: Record<string, RawTensor> = {};
  for (const [k, v] of Object.entries(w)) out[k] = { dtype: 'F32', shape: v.shape, data: v.data };
  return out;
}

/**
 * The files of an SAE folder (name → bytes) for `snap`: what `writeSaeFolder` writes, for
 * writers that put them somewhere else or write them synchronously (training checkpoints).
 */
export function saeFolderFiles(snap: SaeSnapshot, opts: WriteSaeFolderOptions = {}): Array<{ name: string; bytes: Uint8Array | string }> {
  const content = folderContent(snap, opts);
  const logSparsity = opts.logSparsity ?? (opts.sparsity ? logFeatureSparsity(opts.sparsity) : undefined);
  if (logSparsity && logSparsity.length !== snap.cfg.dSae) {
    throw new ShapeError(`writeSaeFolder: sparsity has ${logSparsity.length} values, expected ${snap.cfg.dSae} (d_sae)`);
  }
  const files: Array<{ name: string; bytes: Uint8Array | string }> = [
    { name: SAE_WEIGHTS_PATH, bytes: encodeSafetensors(content.weights) },
    { name: SAE_CFG_PATH, bytes: JSON.stringify(content.cfgJson, null, 2) },
  ];
  if (content.runnerCfg) files.push({ name: RUNNER_CFG_PATH, bytes: JSON.stringify(content.runnerCfg, null, 2) });
  if (logSparsity) files.push({ name: SPARSITY_PATH, bytes: encodeSafetensors({ sparsity: { dtype: 'F32', shape: [snap.cfg.dSae], data: logSparsity } }) });
  return files;
}

/** Writes the SAE folder atomically (a temporary folder beside `dir`, then renamed). */
export async function writeSaeFolder(dir: string, snap: SaeSnapshot, opts: WriteSaeFolderOptions = {}): Promise<void> {
  const files = saeFolderFiles(snap, opts);
  await writeDirAtomic(dir, async (tmp) => {
    for (const f of files) await fsp.writeFile(path.join(tmp, f.name), f.bytes);
  });
}

/** Reads sparsity.safetensors of an SAE folder (log10 frequencies), or null when absent. */
export async function loadSaeSparsity(dir: string): Promise<Float32Array | null> {
  const p = path.join(dir, SPARSITY_PATH);
  try {
    await fsp.access(p);
  } catch {
    return null;
  }
  const f = await SafetensorsFile.open(p);
  try {
    const cfgText = await fsp.readFile(path.join(dir, SAE_CFG_PATH), 'utf8').catch(() => undefined);
    checkSparsityShape(p, f.info('sparsity').shape, cfgDSae(cfgText));
    return await f.readFloat32('sparsity');
  } finally {
    await f.close();
  }
}


/**
 * Loads an SAE folder written by any SAELens generation or by writeSaeFolder, or a Gemma Scope
 * transcoder folder (params.npz / params.safetensors, no cfg.json: gemmaScopeTranscoder.ts).
 */
export async function loadSae(dir: string, opts: LoadSaeOptions = {}): Promise<Sae> {
  if (await isGemmaScopeFolder(dir)) return loadGemmaScopeTranscoder(dir);
  return loadSaeFrom(diskFolder(dir), opts);
}
