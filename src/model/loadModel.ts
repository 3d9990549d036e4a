/**
 * Reads a Hugging Face model folder: `config.json` plus `model.safetensors`, or the shards that
 * `model.safetensors.index.json` lists in its `weight_map`.
 */
import { ConfigError, FileFormatError } from '../errors.js';
import { platform } from '../platform/index.js';
import { SafetensorsFile } from '../io/safetensors/fileReader.js';
import { type Folder, folderFile, folderJson, folderPath } from '../io/folder.js';
import type { HookedTransformerConfig } from './ModelConfig.js';
import { configFromHf } from './ModelConfig.js';
import type { ModelWeights, TensorSource, WeightConversionOptions } from './weights.js';
import { UNTIED_UNEMBED_TENSORS, weightsFromHf } from './weights.js';

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);

/** HF buffers that are not weights (causal-mask constants, cached rotary frequencies). */
function isBuffer(name: string): boolean {
  return /(\.attn\.bias|\.attn\.masked_bias|\.attention\.bias|\.attention\.masked_bias|rotary_emb\.inv_freq)$/.test(name);
}

/** A JSON object file; ConfigError when it cannot be read, FileFormatError when it is not a JSON object. */
export function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = platform.files.readText(file);
  } catch (e) {
    throw new ConfigError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new FileFormatError(`${file}: invalid JSON (${(e as Error).message})`, { cause: e });
  }
}

/** The shard file names a `model.safetensors.index.json` lists (its weight_map's values), sorted. */
export function shardNames(indexFile: string): string[] {
  const map = readJson(indexFile)['weight_map'];
  if (map === null || typeof map !== 'object') throw new FileFormatError(`${indexFile}: no 'weight_map' object`);
  return [...new Set(Object.values(map as Record<string, unknown>).map(String))].sort();
}

/** The safetensors files of a folder: one file, or the shards of the index. */
export function modelWeightFiles(dir: string): string[] {
  const single = platform.path.join(dir, 'model.safetensors');
  if (platform.files.exists(single)) return [single];
  const indexFile = platform.path.join(dir, 'model.safetensors.index.json');
  if (platform.files.exists(indexFile)) return shardNames(indexFile).map((s) => platform.path.join(dir, s));
  const bin = ['pytorch_model.bin', 'model.bin'].find((f) => platform.files.exists(platform.path.join(dir, f)));
  throw new FileFormatError(
    `${dir}: no model.safetensors or model.safetensors.index.json${bin ? ` (found ${bin}: PyTorch pickles are not read; convert to safetensors)` : ''}`,
  );
}

/** The model config of a folder's `config.json` (named `modelName`, default the folder's name). */
export function readModelConfig(dir: string, modelName?: string): HookedTransformerConfig {
  const cfgFile = platform.path.join(dir, 'config.json');
  return configFromHf(readJson(cfgFile), cfgFile, modelName ?? platform.path.basename(platform.path.resolve(dir)));
}

/**
 * Loads config and (unprocessed) TransformerLens-layout weights from a folder. Reads every
 * float tensor into memory once, then converts; the caller owns the weights.
 */
export async function loadModelFolder(
  dir: string,
  modelName?: string,
  conv: WeightConversionOptions = {},
): Promise<{ cfg: HookedTransformerConfig; weights: ModelWeights }> {
  const cfg = readModelConfig(dir, modelName);
  const files = modelWeightFiles(dir);
  return { cfg, weights: await readWeights(cfg, files, (file) => SafetensorsFile.open(file), dir, conv) };
}

/**
 * loadModelFolder over a Folder (a URL, the Hub, dropped files — what a page has): the same
 * files, read whole. `modelName` defaults to the folder's last path segment.
 */
export async function loadModelFrom(
  folder: Folder,
  modelName?: string,
  conv: WeightConversionOptions = {},
): Promise<{ cfg: HookedTransformerConfig; weights: ModelWeights }> {
  const cfgFile = folderPath(folder, 'config.json');
  const name = modelName ?? (folder.label.replace(/\/+$/, '').split('/').pop() || 'model');
  const cfg = configFromHf(await folderJson(folder, 'config.json'), cfgFile, name);
  let names: string[];
  if (await folder.has('model.safetensors')) names = ['model.safetensors'];
  else if (await folder.has('model.safetensors.index.json')) {
    const map = (await folderJson(folder, 'model.safetensors.index.json'))['weight_map'];
    if (map === null || typeof map !== 'object') throw new FileFormatError(`${folderPath(folder, 'model.safetensors.index.json')}: no 'weight_map' object`);
    names = [...new Set(Object.values(map as Record<string, unknown>).map(String))].sort();
  } else throw new FileFormatError(`${folder.label}: no model.safetensors or model.safetensors.index.json`);
  const open = async (name: string) => SafetensorsFile.open(folderPath(folder, name), () => folderFile(folder, name));
  return { cfg, weights: await readWeights(cfg, names, open, folder.label, conv) };
}

/** Reads every float tensor of the weight files once and converts them to TransformerLens layout. */
async function readWeights(
  cfg: HookedTransformerConfig,
  files: readonly string[],
  open: (file: string) => Promise<SafetensorsFile>,
  where: string,
  conv: WeightConversionOptions,
): Promise<ModelWeights> {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const file of files) {
    const f = await open(file);
    try {
      for (const name of f.names()) {
        const info = f.info(name);
        if (isBuffer(name) || !FLOAT_DTYPES.has(info.dtype)) continue;
        // an untied unembedding that will not be converted is not read either
        if (conv.unembed === false && UNTIED_UNEMBED_TENSORS.has(name)) continue;
        if (tensors.has(name)) throw new FileFormatError(`${file}: tensor '${name}' appears in two shards`);
        tensors.set(name, { shape: info.shape, data: await f.readFloat32(name) });
      }
    } finally {
      await f.close();
    }
  }
  const src: TensorSource = {
    has: (n) => tensors.has(n),
    shape: (n) => tensors.get(n)!.shape,
    read: (n) => tensors.get(n)!.data,
  };
  const weights = weightsFromHf(cfg, src, files.length === 1 ? files[0]! : `${where} (${files.length} shards)`, conv);
  tensors.clear();
  return weights;
}
