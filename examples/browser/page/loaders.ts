/**
 * TEMPORARY: loads the tiny GPT-2, its tokenizer and the SAE folder over HTTP from the demo
 * server, until sae-rx's browser build gives its own loaders (then this file goes).
 */
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { decodeSafetensors } from '../../../src/io/safetensors/memoryReader.js';
import { configFromHf } from '../../../src/model/ModelConfig.js';
import { HookedTransformer } from '../../../src/model/HookedTransformer.js';
import { HfTokenizer } from '../../../src/model/tokenizer.js';
import { weightsFromHf } from '../../../src/model/weights.js';
import { readSaeFolderCfg, saeConfigOfFolder } from '../../../src/sae/folderCfg.js';
import { readFolderWeights } from '../../../src/sae/folderWeights.js';
import { architectureOf } from '../../../src/sae/architectures/registry.js';
import { Sae } from '../../../src/sae/Sae.js';

async function get(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}
const json = async (url: string) => (await (await get(url)).json()) as Record<string, unknown>;
const bytes = async (url: string) => new Uint8Array(await (await get(url)).arrayBuffer());

export async function loadModelFromUrl(base: string, name: string): Promise<HookedTransformer> {
  const cfg = configFromHf(await json(`${base}config.json`), `${base}config.json`, name);
  const st = decodeSafetensors(await bytes(`${base}model.safetensors`), `${base}model.safetensors`);
  const weights = weightsFromHf(cfg, { has: (n: string) => st.names().includes(n), shape: (n: string) => st.info(n).shape, read: (n: string) => st.float32(n) } as never, `${base}model.safetensors`);
  return new HookedTransformer(cfg, weights, { processWeights: true });
}

export async function loadTokenizerFromUrl(base: string): Promise<HfTokenizer> {
  const tj = await json(`${base}tokenizer.json`);
  const tc = await json(`${base}tokenizer_config.json`);
  const tok = new HfTokenizerImpl(tj as never, tc as never);
  const id = (k: string) => tok.token_to_id(String((tc[`${k}_token`] as { content?: string })?.content ?? tc[`${k}_token`]));
  return new HfTokenizer(tok, { bos: id('bos'), eos: id('eos') }, `${base}tokenizer.json`);
}

export async function loadSaeFromUrl(base: string): Promise<Sae> {
  const fc = readSaeFolderCfg(await json(`${base}cfg.json`), `${base}cfg.json`);
  const cfg = saeConfigOfFolder(fc);
  const st = decodeSafetensors(await bytes(`${base}sae_weights.safetensors`), `${base}sae_weights.safetensors`);
  const file = { names: () => st.names(), info: (n: string) => st.info(n), readFloat32: async (n: string) => st.float32(n) };
  const w = await readFolderWeights(file as never, `${base}sae_weights.safetensors`, fc, architectureOf(cfg.architecture).params(cfg));
  return Sae.fromWeights(cfg, { params: w });
}
