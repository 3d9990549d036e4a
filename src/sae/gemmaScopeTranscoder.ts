/**
 * Gemma Scope transcoder folders, read as SAELens's loaders read them
 * (loading/pretrained_sae_loaders.py: `gemma_2_transcoder_huggingface_loader` and the Gemma 3
 * loader for Gemma Scope 2's transcoders), from a local folder:
 *
 * - Gemma Scope (1): `params.npz` with W_enc [d_in, d_sae], W_dec [d_sae, d_out], b_enc, b_dec,
 *   threshold, key names matched case-insensitively with SAELens's aliases (w_enc | wenc | w_e,
 *   …); a `jumprelu_transcoder`.
 * - Gemma Scope 2: `params.safetensors` with w_enc, w_dec, b_enc, b_dec, threshold and, for
 *   skip transcoders, `affine_skip_connection` [d_in, d_out] (W_skip is its transpose), plus an
 *   optional `config.json` whose `architecture` must be "jump_relu"; a
 *   `jumprelu_skip_transcoder` when the skip connection is there, else a `jumprelu_transcoder`
 *   (SAELens names every Gemma Scope 2 transcoder a skip transcoder; without the tensor its
 *   W_skip would be missing).
 *
 * Config derivation as SAELens's: the layer from `layer_<L>` in the folder path (hook
 * `blocks.<L>.ln2.hook_normalized` → `blocks.<L>.hook_mlp_out`), apply_b_dec_to_input false, no
 * normalisation, context 1024, BOS prepended. Where SAELens reads d_sae from the folder name
 * (`width_16k`) and d_model from the repo id, sae-rx takes d_in, d_sae and d_out from the stored
 * shapes (the folder has no repo id), and the model name from the options or config.json.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { tableDefaults } from '../config/fields.js';
import { ConfigError, FileFormatError } from '../errors.js';
import { readNpz } from '../io/npz.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { architectureOf } from './architectures/registry.js';
import { Sae } from './Sae.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from './SaeConfig.js';
import { finiteWeights } from './weightChecks.js';

export const GEMMA_SCOPE_NPZ = 'params.npz';
export const GEMMA_SCOPE_SAFETENSORS = 'params.safetensors';

/** SAELens's aliases of the Gemma Scope (1) npz keys (lower-cased) → state-dict names. */
const NPZ_KEYS: Record<string, string> = {
  w_enc: 'W_enc', wenc: 'W_enc', w_e: 'W_enc',
  w_dec: 'W_dec', wdec: 'W_dec', w_d: 'W_dec',
  b_enc: 'b_enc', benc: 'b_enc', b_e: 'b_enc',
  b_dec: 'b_dec', bdec: 'b_dec', b_d: 'b_dec',
  threshold: 'threshold',
};

export interface GemmaScopeOptions {
  /** The model the transcoder was trained on (SAELens derives it from the repo id). */
  readonly modelName?: string;
}

const exists = (p: string) => fsp.access(p).then(() => true, () => false);

/** Whether `dir` holds a Gemma Scope transcoder (params.npz or params.safetensors, no cfg.json). */
export async function isGemmaScopeFolder(dir: string): Promise<boolean> {
  if (await exists(path.join(dir, 'cfg.json'))) return false;
  return (await exists(path.join(dir, GEMMA_SCOPE_NPZ))) || (await exists(path.join(dir, GEMMA_SCOPE_SAFETENSORS)));
}

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

interface Raw {
  readonly params: Record<string, Float32Array>;
  readonly shapes: Record<string, number[]>;
  readonly modelName: string | null;
}

async function readV1(file: string): Promise<Raw> {
  const arrays = readNpz(new Uint8Array(await fsp.readFile(file)), file);
  const params: Record<string, Float32Array> = {};
  const shapes: Record<string, number[]> = {};
  for (const [key, a] of Object.entries(arrays)) {
    const name = NPZ_KEYS[key.toLowerCase()];
    if (!name) continue; // SAELens ignores other keys too
    params[name] = a.data;
    shapes[name] = a.shape;
  }
  return { params, shapes, modelName: null };
}

async function readV2(dir: string, file: string): Promise<Raw> {
  let modelName: string | null = null;
  const cfgPath = path.join(dir, 'config.json');
  if (await exists(cfgPath)) {
    const raw = JSON.parse(await fsp.readFile(cfgPath, 'utf8')) as Record<string, unknown>;
    if (raw['architecture'] !== 'jump_relu') throw new ConfigError(`${cfgPath}: "architecture" ${JSON.stringify(raw['architecture'])} is not a Gemma Scope 2 JumpReLU ("jump_relu")`);
    if (typeof raw['model_name'] === 'string') modelName = raw['model_name'];
  }
  const f = await SafetensorsFile.open(file);
  try {
    const params: Record<string, Float32Array> = {};
    const shapes: Record<string, number[]> = {};
    const names: Record<string, string> = { w_enc: 'W_enc', w_dec: 'W_dec', b_enc: 'b_enc', b_dec: 'b_dec', threshold: 'threshold' };
    for (const stored of f.names()) {
      const shape = [...f.info(stored).shape];
      if (stored === 'affine_skip_connection') {
        // [d_in, d_out] as stored; SAELens's W_skip is its transpose [d_out, d_in]
        params['W_skip'] = transpose(await f.readFloat32(stored), shape[0]!, shape[1]!);
        shapes['W_skip'] = [shape[1]!, shape[0]!];
      } else if (names[stored]) {
        params[names[stored]!] = await f.readFloat32(stored);
        shapes[names[stored]!] = shape;
      } else {
        throw new FileFormatError(`${file}: unexpected tensor "${stored}" for a Gemma Scope 2 transcoder (expected ${[...Object.keys(names), 'affine_skip_connection'].join(', ')})`);
      }
    }
    return { params, shapes, modelName };
  } finally {
    await f.close();
  }
}

/** Loads a Gemma Scope (1 or 2) transcoder folder (see the file comment). */
export async function loadGemmaScopeTranscoder(dir: string, opts: GemmaScopeOptions = {}): Promise<Sae> {
  const v2 = path.join(dir, GEMMA_SCOPE_SAFETENSORS);
  const v1 = path.join(dir, GEMMA_SCOPE_NPZ);
  const file = (await exists(v2)) ? v2 : v1;
  if (!(await exists(file))) throw new FileFormatError(`${dir}: no ${GEMMA_SCOPE_SAFETENSORS} or ${GEMMA_SCOPE_NPZ} (a Gemma Scope transcoder folder)`);
  const raw = file === v2 ? await readV2(dir, file) : await readV1(file);
  for (const n of ['W_enc', 'W_dec', 'b_enc', 'b_dec', 'threshold']) {
    if (!raw.params[n]) throw new FileFormatError(`${file}: missing ${n} (has ${Object.keys(raw.params).join(', ') || 'nothing SAELens reads'})`);
  }
  const [dIn, dSae] = raw.shapes['W_enc']!;
  const dOut = raw.shapes['W_dec']![1]!;
  const layer = /layer_(\d+)/.exec(path.resolve(dir))?.[1];
  if (layer === undefined) throw new ConfigError(`${dir}: no layer_<L> in the folder path; the Gemma Scope loader takes the transcoder's layer from it`);
  const architecture = raw.params['W_skip'] ? 'jumprelu_skip_transcoder' : 'jumprelu_transcoder';
  const cfg: SaeConfig = {
    ...DEFAULT_SAE_CONFIG,
    architecture,
    archFields: tableDefaults(architectureOf(architecture).fields),
    dIn: dIn!,
    dSae: dSae!,
    dOut,
    applyBDecToInput: false,
    normalizeSaeDecoder: false,
    modelName: opts.modelName ?? raw.modelName ?? 'unknown',
    hookPoint: `blocks.${layer}.ln2.hook_normalized`,
    hookPointLayer: Number(layer),
    hookPointHeadIndex: null,
    hookPointOut: `blocks.${layer}.hook_mlp_out`,
    hookPointOutLayer: Number(layer),
    hookPointOutHeadIndex: null,
    contextSize: 1024,
    prependBos: true,
  };
  // shapes against what the architecture declares, by name; NaN/Inf is an error naming the tensor
  for (const spec of architectureOf(architecture).params(cfg)) {
    const got = raw.shapes[spec.name]!;
    if (got.length !== spec.shape.length || got.some((d, i) => d !== spec.shape[i])) {
      throw new FileFormatError(`${file}: ${spec.name} has shape [${got.join(', ')}], expected [${spec.shape.join(', ')}] (d_in ${dIn}, d_sae ${dSae}, d_out ${dOut} from W_enc and W_dec)`);
    }
    finiteWeights(file, spec.name, raw.params[spec.name]!);
  }
  return Sae.fromWeights(cfg, { params: raw.params });
}
