/**
 * `fromPretrained(release, saeId)`: an SAE by its SAELens release name, as SAELens's
 * `SAE.from_pretrained_with_cfg_and_sparsity` does:
 * 1. the release is looked up in the registry; a name with '/' that is not there is a Hub repo
 *    id and `saeId` the folder inside it;
 * 2. the loader named by `conversion_func` (null = `sae_lens`) fetches the SAE's files through
 *    the Hub client (cache, HF_TOKEN, offline mode) and loads them;
 * 3. the release's `config_overrides` and the SAE's Neuronpedia id are merged into the returned
 *    config; with `normalize_activations: expected_average_only_in` and a `norm_scaling_factor`
 *    in the registry, the factor is folded into the weights (W_enc·s, W_dec/s, b_dec/s) and the
 *    config says `none`, as SAELens does.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, FileFormatError } from '../../errors.js';
import type { HubConfig } from '../../hub/config.js';
import { downloadHubFile, hubFileExists } from '../../hub/download.js';
import type { Sae } from '../Sae.js';
import { SAE_CFG_PATH, SAE_WEIGHTS_PATH, SPARSITY_PATH, loadSae, loadSaeSparsity } from '../saeFolder.js';
import { findRelease, findSae, pretrainedRegistry, type PretrainedRegistry, type PretrainedRelease, type PretrainedSaeEntry } from './registry.js';

/** Loaders (SAELens `NAMED_PRETRAINED_SAE_LOADERS` names) that sae-rx implements. */
export const SUPPORTED_PRETRAINED_LOADERS: readonly string[] = ['sae_lens'];

/**
 * config_overrides keys that only describe where the SAE reads or what it was trained on
 * (returned in the config, used by loadSession); any other key would change the SAE's maths
 * after loading, which sae-rx refuses rather than ignore.
 */
const METADATA_OVERRIDES = new Set([
  'dataset_path',
  'dataset_trust_remote_code',
  'model_from_pretrained_kwargs',
  'neuronpedia_id',
  'device',
  'model_name',
  'model_class_name',
  'hook_name',
  'hook_point',
  'hook_head_index',
  'hook_point_head_index',
  'context_size',
  'prepend_bos',
  'seqpos_slice',
  'sae_lens_training_version',
]);

export interface PretrainedTarget {
  readonly repoId: string;
  /** Folder inside the repo ('' = the repo root). */
  readonly folder: string;
  readonly loader: string;
  /** Absent when the release name was a Hub repo id not in the registry. */
  readonly release?: PretrainedRelease;
  readonly entry?: PretrainedSaeEntry;
}

export interface FromPretrainedOptions {
  /** Hub settings (endpoint, token, cache, offline); defaults from the environment. */
  readonly hub?: Partial<HubConfig>;
  /** The registry to look names up in (default: the shipped list plus SAE_RX_PRETRAINED_YAML files). */
  readonly registry?: PretrainedRegistry;
  /** Branch, tag or commit of the SAE's repo (default main). */
  readonly revision?: string;
  /** Where SAELens's warnings go (default console.warn). */
  readonly warn?: (message: string) => void;
}

export interface PretrainedSae {
  readonly sae: Sae;
  /** cfg.json as read, with the release's config_overrides and `neuronpedia_id` merged in. */
  readonly cfgDict: Record<string, unknown>;
  /** log10 feature density (sparsity.safetensors), or null when the SAE has none. */
  readonly sparsity: Float32Array | null;
  /** The local folder (in the Hub cache) holding the SAE's files. */
  readonly folder: string;
  readonly target: PretrainedTarget;
  /** The norm scaling factor folded into the weights, if any. */
  readonly foldedNormScalingFactor?: number;
}

/** Where a (release, SAE id) lives and which loader reads it (no network). */
export function resolvePretrained(release: string, saeId: string, registry: PretrainedRegistry = pretrainedRegistry()): PretrainedTarget {
  const r = registry.releases.get(release);
  if (!r) {
    if (!release.includes('/')) findRelease(registry, release); // throws, with close names
    return { repoId: release, folder: normFolder(saeId), loader: 'sae_lens' };
  }
  const entry = findSae(r, saeId);
  return { repoId: r.repoId, folder: normFolder(entry.path), loader: r.conversionFunc ?? 'sae_lens', release: r, entry };
}

function normFolder(p: string): string {
  const f = p.replace(/^\/+|\/+$/g, '');
  return f === '.' ? '' : f;
}

function checkLoader(t: PretrainedTarget, what: string): void {
  if (SUPPORTED_PRETRAINED_LOADERS.includes(t.loader)) return;
  throw new ConfigError(
    `${what}: its loader (conversion_func) "${t.loader}" is not supported by sae-rx (supported: ${SUPPORTED_PRETRAINED_LOADERS.join(', ')}); ` +
      'SAEs in other formats must be converted to SAELens\'s folder layout first',
  );
}

/**
 * Downloads an SAE folder's files (cfg.json, sae_weights.safetensors, sparsity.safetensors when
 * the repo has it) into the Hub cache; returns the local folder.
 */
export async function downloadSaeFolder(repoId: string, folder: string, opts: { hub?: Partial<HubConfig>; revision?: string } = {}): Promise<string> {
  const ref = { repo: repoId, ...(opts.revision ? { revision: opts.revision } : {}) };
  const p = (f: string) => (folder ? `${folder}/${f}` : f);
  const cfgFile = await downloadHubFile({ ...ref, path: p(SAE_CFG_PATH) }, opts.hub);
  const weights = await downloadHubFile({ ...ref, path: p(SAE_WEIGHTS_PATH) }, opts.hub);
  if (await hubFileExists({ ...ref, path: p(SPARSITY_PATH) }, opts.hub)) await downloadHubFile({ ...ref, path: p(SPARSITY_PATH) }, opts.hub);
  // the files of one revision share a snapshot folder in the cache
  if (path.dirname(cfgFile) !== path.dirname(weights)) throw new FileFormatError(`${SAE_CFG_PATH} and ${SAE_WEIGHTS_PATH} of ${repoId}/${folder} landed in different cache folders`);
  return path.dirname(cfgFile);
}

/** Multiplies W_enc by s and divides W_dec and b_dec by s, in place (SAELens fold_activation_norm_scaling_factor). */
export function foldNormScalingFactor(sae: Sae, s: number): void {
  if (!(s > 0 && Number.isFinite(s))) throw new ConfigError(`norm_scaling_factor must be a positive number, got ${s}`);
  tf.tidy(() => {
    sae.W_enc.assign(tf.mul(sae.W_enc, s));
    sae.W_dec.assign(tf.div(sae.W_dec, s));
    sae.b_dec.assign(tf.div(sae.b_dec, s));
  });
}

/** An SAE by SAELens release name and SAE id (see the file comment). The caller disposes `sae`. */
export async function fromPretrained(release: string, saeId: string, opts: FromPretrainedOptions = {}): Promise<PretrainedSae> {
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const target = resolvePretrained(release, saeId, opts.registry ?? pretrainedRegistry());
  const what = target.release ? `release "${release}", SAE "${saeId}"` : `hub repo ${release}, folder "${saeId}"`;
  checkLoader(target, what);
  const overrides: Record<string, unknown> = { ...(target.release?.configOverrides ?? {}) };
  if (target.entry?.neuronpedia !== undefined) overrides['neuronpedia_id'] = target.entry.neuronpedia;
  const folder = await downloadSaeFolder(target.repoId, target.folder, opts);
  const cfgPath = path.join(folder, SAE_CFG_PATH);
  let cfgFile: Record<string, unknown>;
  try {
    cfgFile = JSON.parse(await fsp.readFile(cfgPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new FileFormatError(`${cfgPath}: cannot read SAE config (${(e as Error).message})`, { cause: e });
  }
  for (const [k, v] of Object.entries(overrides)) {
    if (METADATA_OVERRIDES.has(k) || JSON.stringify(cfgFile[k]) === JSON.stringify(v)) continue;
    throw new ConfigError(
      `${what}: config_overrides sets "${k}" to ${JSON.stringify(v)} (cfg.json has ${JSON.stringify(cfgFile[k])}), which changes how the SAE computes; sae-rx does not apply such overrides`,
    );
  }
  const cfgDict: Record<string, unknown> = { ...cfgFile, ...overrides };
  // this loader folds the release's norm_scaling_factor itself and warns when it has none
  const sae = await loadSae(folder, { warn: () => {} });
  try {
    const sparsity = await loadSaeSparsity(folder);
    let folded: number | undefined;
    if (cfgDict['normalize_activations'] === 'expected_average_only_in') {
      const s = target.entry?.normScalingFactor;
      if (s !== undefined) {
        foldNormScalingFactor(sae, s);
        cfgDict['normalize_activations'] = 'none';
        folded = s;
      } else {
        warn(`norm_scaling_factor not found for ${release} and ${saeId}, but normalize_activations is 'expected_average_only_in'. Skipping normalization folding.`);
      }
    }
    return { sae, cfgDict, sparsity, folder, target, ...(folded !== undefined ? { foldedNormScalingFactor: folded } : {}) };
  } catch (e) {
    sae.dispose();
    throw e;
  }
}
