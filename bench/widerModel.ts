/**
 * A GPT-2-architecture model folder of a chosen width with seeded random weights, for benches
 * that need forward passes heavier than the 128-wide tiny model's: `config.json`,
 * `model.safetensors` (the Hugging Face GPT-2 tensor names) and the tiny model's real GPT-2
 * tokenizer files. Its activations mean nothing; the work per token is that of a real model of
 * that shape (GPT-2 small: width 768, 12 heads).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSafetensors } from '../src/io/safetensors.js';
import type { RawTensor } from '../src/io/safetensors/dtypes.js';
import { seededRandom } from '../src/stream/rng.js';

export interface WiderModelShape {
  readonly width: number;
  readonly heads: number;
  readonly layers: number;
  readonly nCtx: number;
}

/** Writes the model folder `dir` (created) from the tokenizer of `tokenizerDir` (a GPT-2 model folder). */
export async function writeWiderModel(dir: string, tokenizerDir: string, shape: WiderModelShape, seed = 0): Promise<void> {
  const { width: d, heads, layers, nCtx } = shape;
  if (d % heads !== 0) throw new Error(`width ${d} is not a multiple of heads ${heads}`);
  const tokenizerCfg = JSON.parse(fs.readFileSync(path.join(tokenizerDir, 'config.json'), 'utf8')) as { vocab_size: number };
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(tokenizerDir, f), path.join(dir, f));
  const rand = seededRandom(seed);
  // GPT-2's initialisation: normal(0, 0.02) weights (Box–Muller), zero biases, unit norm gains
  const normal = (shape: number[], std = 0.02): RawTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - rand())) * std;
      const a = 2 * Math.PI * rand();
      data[i] = r * Math.cos(a);
      if (i + 1 < n) data[i + 1] = r * Math.sin(a);
    }
    return { dtype: 'F32', shape, data };
  };
  const filled = (shape: number[], v: number): RawTensor => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v) });
  const tensors: Record<string, RawTensor> = {
    'transformer.wte.weight': normal([tokenizerCfg.vocab_size, d]),
    'transformer.wpe.weight': normal([nCtx, d], 0.01),
    'transformer.ln_f.weight': filled([d], 1),
    'transformer.ln_f.bias': filled([d], 0),
  };
  for (let l = 0; l < layers; l++) {
    const p = `transformer.h.${l}`;
    Object.assign(tensors, {
      [`${p}.ln_1.weight`]: filled([d], 1), [`${p}.ln_1.bias`]: filled([d], 0),
      [`${p}.ln_2.weight`]: filled([d], 1), [`${p}.ln_2.bias`]: filled([d], 0),
      [`${p}.attn.c_attn.weight`]: normal([d, 3 * d]), [`${p}.attn.c_attn.bias`]: filled([3 * d], 0),
      [`${p}.attn.c_proj.weight`]: normal([d, d]), [`${p}.attn.c_proj.bias`]: filled([d], 0),
      [`${p}.mlp.c_fc.weight`]: normal([d, 4 * d]), [`${p}.mlp.c_fc.bias`]: filled([4 * d], 0),
      [`${p}.mlp.c_proj.weight`]: normal([4 * d, d]), [`${p}.mlp.c_proj.bias`]: filled([d], 0),
    });
  }
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  const config = {
    architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: tokenizerCfg.vocab_size,
    n_positions: nCtx, n_ctx: nCtx, n_embd: d, n_layer: layers, n_head: heads, n_inner: null,
    activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, initializer_range: 0.02,
    bos_token_id: 50256, eos_token_id: 50256, tie_word_embeddings: true,
    resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0, torch_dtype: 'float32',
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
}
