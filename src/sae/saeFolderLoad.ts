/**
 * Reading an SAE folder (see saeFolder.ts for the layouts) from any Folder: no file system
 * access of its own, so a page loads SAEs from a URL, the Hub or dropped files.
 */
import { ConfigError, FileFormatError } from '../errors.js';
import { type Folder, folderFile, folderPath, folderText } from '../io/folder.js';
import { SafetensorsFile } from '../io/safetensors/fileReader.js';
import { platform } from '../platform/index.js';
import { architectureOf } from './architectures/registry.js';
import { readSaeFolderCfg, saeConfigOfFolder } from './folderCfg.js';
import { readFolderWeights } from './folderWeights.js';
import { Sae } from './Sae.js';
import { SAE_CFG_PATH, SAE_WEIGHTS_PATH } from './saeFolderFiles.js';
import { finiteWeights } from './weightChecks.js';

function scaled(a: Float32Array, by: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * by;
  return out;
}

export interface LoadSaeOptions {
  /**
   * The norm scaling factor of an SAE whose cfg says `expected_average_only_in` (SAELens's
   * pretrained registry calls it norm_scaling_factor): folded into the weights on load.
   */
  normScalingFactor?: number;
  /** Where a warning goes (default: the platform's warning line: stderr, or console.warn in a page). */
  warn?: (message: string) => void;
}

/**
 * Loads an SAE folder written by any SAELens generation or by writeSaeFolder, from a Folder: on
 * disk (loadSae), at a URL, on the Hub, or dropped into a page.
 */
export async function loadSaeFrom(folder: Folder, opts: LoadSaeOptions = {}): Promise<Sae> {
  const cfgPath = folderPath(folder, SAE_CFG_PATH);
  let raw: unknown;
  try {
    raw = JSON.parse(await folderText(folder, SAE_CFG_PATH));
  } catch (e) {
    throw new FileFormatError(`${cfgPath}: cannot read SAE config (${(e as Error).message})`, { cause: e });
  }
  const fc = readSaeFolderCfg(raw, cfgPath);
  let cfg = saeConfigOfFolder(fc);
  const arch = architectureOf(cfg.architecture);
  const wPath = folderPath(folder, SAE_WEIGHTS_PATH);
  const f = await SafetensorsFile.open(wPath, () => folderFile(folder, SAE_WEIGHTS_PATH));
  let weights: Record<string, Float32Array>;
  try {
    weights = await readFolderWeights(f, wPath, fc, arch.params(cfg));
    // a damaged file is an error naming the tensor, not an SAE that computes NaN
    for (const [name, values] of Object.entries(weights)) finiteWeights(wPath, name, values);
  } finally {
    await f.close();
  }
  if (fc.normalizeActivations === 'expected_average_only_in') {
    const s = opts.normScalingFactor;
    if (s === undefined) {
      (opts.warn ?? ((m: string) => platform.warn(`sae-rx WARNING: ${m}`)))(
        `${cfgPath}: normalize_activations is expected_average_only_in but no norm scaling factor is known; ` +
          'the SAE runs on unscaled activations (as SAELens does); pass normScalingFactor to fold it in',
      );
    } else {
      if (!(s > 0 && Number.isFinite(s))) throw new ConfigError(`loadSae: normScalingFactor must be a positive number, got ${s}`);
      if (arch.transcoder) {
        // one factor cannot say how the target was scaled: refuse rather than guess
        throw new ConfigError(`${cfgPath}: a ${cfg.architecture} with normalize_activations expected_average_only_in needs its input and target factors; fold both when saving (writeSaeFolder's normScalingFactor and targetNormScalingFactor)`);
      }
      weights = { ...weights, W_enc: scaled(weights['W_enc']!, s), W_dec: scaled(weights['W_dec']!, 1 / s), b_dec: scaled(weights['b_dec']!, 1 / s) };
      cfg = { ...cfg, normalizeActivations: 'none' };
    }
  }
  return Sae.fromWeights(cfg, { params: weights });
}
