/**
 * An SAE on disk in SAELens's layout (DESIGN.md §6):
 *   cfg.json                 v1.5 flat snake_case config (v6 architecture+metadata also read)
 *   sae_weights.safetensors  W_enc [d_in,d_sae], b_enc [d_sae], W_dec [d_sae,d_in], b_dec [d_in],
 *                            scaling_factor [d_sae]
 *   sparsity.safetensors     sparsity [d_sae] = log10(feature frequency + 1e-10) (optional)
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { FileFormatError, ShapeError } from '../errors.js';
import { writeDirAtomic } from '../io/atomicWrite.js';
import { SafetensorsFile, encodeSafetensors } from '../io/safetensors.js';
import { saeConfigFromCfgJson, saeConfigToCfgJson } from './cfgJson.js';
import { Sae, type SaeSnapshot } from './Sae.js';
import { cfgDSae, checkSparsityShape, finiteWeights } from './weightChecks.js';

export const SAE_CFG_PATH = 'cfg.json';
export const SAE_WEIGHTS_PATH = 'sae_weights.safetensors';
export const SPARSITY_PATH = 'sparsity.safetensors';

export interface WriteSaeFolderOptions {
  /** Feature activation frequency per feature (SaeTrainer.featureSparsity()); written as log10(f + 1e-10). */
  sparsity?: Float32Array;
  /** Already log10 sparsity, written as is (takes precedence over `sparsity`). */
  logSparsity?: Float32Array;
  /**
   * The activation norm-scaling factor s the SAE was trained with (inputs were x·s). Folded into
   * the weights (W_enc·s, W_dec/s, b_dec/s) so the saved SAE works on raw activations.
   */
  normScalingFactor?: number;
  /** Extra cfg.json keys (runner/trainer fields, snake_case), merged over the SAE's own. */
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

/**
 * The files of an SAE folder (name → bytes) for `snap`: what `writeSaeFolder` writes, for
 * writers that put them somewhere else or write them synchronously (training checkpoints).
 */
export function saeFolderFiles(snap: SaeSnapshot, opts: WriteSaeFolderOptions = {}): Array<{ name: string; bytes: Uint8Array | string }> {
  const { dIn, dSae } = snap.cfg;
  const check = (name: string, a: Float32Array, n: number) => {
    if (a.length !== n) throw new ShapeError(`writeSaeFolder: ${name} has ${a.length} values, expected ${n} (d_in ${dIn}, d_sae ${dSae})`);
  };
  check('W_enc', snap.W_enc, dIn * dSae);
  check('b_enc', snap.b_enc, dSae);
  check('W_dec', snap.W_dec, dSae * dIn);
  check('b_dec', snap.b_dec, dIn);
  check('scaling_factor', snap.scalingFactor, dSae);
  let { W_enc, W_dec, b_dec } = snap;
  const s = opts.normScalingFactor;
  if (s !== undefined) {
    if (!(s > 0 && Number.isFinite(s))) throw new ShapeError(`writeSaeFolder: normScalingFactor must be a positive number, got ${s}`);
    W_enc = scaled(W_enc, s);
    W_dec = scaled(W_dec, 1 / s);
    b_dec = scaled(b_dec, 1 / s);
  }
  const logSparsity = opts.logSparsity ?? (opts.sparsity ? logFeatureSparsity(opts.sparsity) : undefined);
  if (logSparsity) check('sparsity', logSparsity, dSae);
  const cfgJson = saeConfigToCfgJson(snap.cfg, {
    // the saved weights work on raw activations once the factor is folded in
    ...(s !== undefined ? { normalize_activations: false } : {}),
    ...opts.extraCfg,
  });
  const files: Array<{ name: string; bytes: Uint8Array | string }> = [
    {
      name: SAE_WEIGHTS_PATH,
      bytes: encodeSafetensors({
        W_enc: { dtype: 'F32', shape: [dIn, dSae], data: W_enc },
        b_enc: { dtype: 'F32', shape: [dSae], data: snap.b_enc },
        W_dec: { dtype: 'F32', shape: [dSae, dIn], data: W_dec },
        b_dec: { dtype: 'F32', shape: [dIn], data: b_dec },
        scaling_factor: { dtype: 'F32', shape: [dSae], data: snap.scalingFactor },
      }),
    },
    { name: SAE_CFG_PATH, bytes: JSON.stringify(cfgJson, null, 2) },
  ];
  if (logSparsity) files.push({ name: SPARSITY_PATH, bytes: encodeSafetensors({ sparsity: { dtype: 'F32', shape: [dSae], data: logSparsity } }) });
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

/** Loads an SAE folder written by SAELens (v1.5 flat cfg or v6 cfg) or by writeSaeFolder. */
export async function loadSae(dir: string): Promise<Sae> {
  const cfgPath = path.join(dir, SAE_CFG_PATH);
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(cfgPath, 'utf8'));
  } catch (e) {
    throw new FileFormatError(`${cfgPath}: cannot read SAE config (${(e as Error).message})`, { cause: e });
  }
  const cfg = saeConfigFromCfgJson(raw, cfgPath);
  const wPath = path.join(dir, SAE_WEIGHTS_PATH);
  const f = await SafetensorsFile.open(wPath);
  try {
    const { dIn, dSae } = cfg;
    const read = async (name: string, shape: number[]): Promise<Float32Array> => {
      if (!f.has(name)) throw new FileFormatError(`${wPath}: missing tensor "${name}" (has ${f.names().join(', ')})`);
      const got = f.info(name).shape;
      if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
        throw new FileFormatError(`${wPath}: tensor "${name}" has shape [${got.join(', ')}], expected [${shape.join(', ')}] from cfg.json`);
      }
      return finiteWeights(wPath, name, await f.readFloat32(name));
    };
    return Sae.fromWeights(cfg, {
      W_enc: await read('W_enc', [dIn, dSae]),
      b_enc: await read('b_enc', [dSae]),
      W_dec: await read('W_dec', [dSae, dIn]),
      b_dec: await read('b_dec', [dIn]),
      // old saves and v6 standard SAEs have no scaling factor: ones (SAELens does the same)
      ...(f.has('scaling_factor') ? { scalingFactor: await read('scaling_factor', [dSae]) } : {}),
    });
  } finally {
    await f.close();
  }
}
