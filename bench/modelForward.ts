/**
 * Forward-pass throughput (tokens/s) of HookedTransformer on the current tfjs backend:
 * the tiny GPT-2 of ../shared (batch 8 × 128) and a random GPT-2-small-shaped model
 * (12 layers, d_model 768, 12 heads, vocab 50257; batch 4 × 128) built in memory.
 * Run alone: `npx tsx bench/modelForward.ts` prints JSON lines.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/backend/index.js';
import { HookedTransformer } from '../src/model/HookedTransformer.js';
import type { HookedTransformerConfig } from '../src/model/ModelConfig.js';
import type { BlockWeights, ModelWeights } from '../src/model/weights.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TINY = path.resolve(HERE, '../../shared/models/tiny-gpt2-sotu');

function randomTokens(batch: number, pos: number, vocab: number, seed: number): tf.Tensor2D {
  let s = seed >>> 0;
  const a = new Int32Array(batch * pos);
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s % vocab;
  }
  return tf.tensor2d(a, [batch, pos], 'int32');
}

/** Times `iters` forward passes (after one warm-up) of `model` on random tokens. */
async function timeForward(model: HookedTransformer, batch: number, pos: number, iters: number) {
  const tokens = randomTokens(batch, pos, model.cfg.dVocab, 42);
  const once = async () => {
    const logits = model.logits(tokens);
    // Wait for the backend to finish (async backends), reading one value, not all the logits.
    const one = tf.slice(logits, [0, 0, 0], [1, 1, 1]);
    await one.data();
    tf.dispose([one, logits]);
  };
  await once();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) await once();
  const ms = (performance.now() - t0) / iters;
  tokens.dispose();
  return { batch, pos, iters, msPerForward: Number(ms.toFixed(2)), tokensPerSec: Math.round((batch * pos * 1000) / ms) };
}

/** A GPT-2-small-shaped model with random N(0, 0.02²) weights (seeded), unprocessed. */
export function randomGpt2Small(seed = 0): HookedTransformer {
  const d = 768;
  const h = 12;
  const m = 3072;
  const v = 50257;
  const nCtx = 1024;
  const nLayers = 12;
  const cfg: HookedTransformerConfig = {
    family: 'gpt2', modelName: 'random-gpt2-small', nLayers, dModel: d, nHeads: h, nKvHeads: h, dHead: d / h,
    dMlp: m, dVocab: v, nCtx, actFn: 'gelu_new', normalizationType: 'LN', eps: 1e-5,
    positionalEmbedding: 'standard', rotaryDim: 0, rotaryBase: 10000, parallelAttnMlp: false, gatedMlp: false,
    tiedEmbeddings: true, bosTokenId: 50256, eosTokenId: 50256, weightsProcessed: false,
  };
  let k = seed;
  const rn = (shape: number[]) => tf.randomNormal(shape, 0, 0.02, 'float32', k++);
  const blocks: BlockWeights[] = [];
  for (let l = 0; l < nLayers; l++) {
    blocks.push({
      ln1W: tf.ones([d]), ln1B: tf.zeros([d]), ln2W: tf.ones([d]), ln2B: tf.zeros([d]),
      WQ: rn([d, d]) as tf.Tensor2D, bQ: tf.zeros([d]), WK: rn([d, d]) as tf.Tensor2D, bK: tf.zeros([d]),
      WV: rn([d, d]) as tf.Tensor2D, bV: tf.zeros([d]), WO: rn([d, d]) as tf.Tensor2D, bO: tf.zeros([d]),
      WIn: rn([d, m]) as tf.Tensor2D, bIn: tf.zeros([m]), WOut: rn([m, d]) as tf.Tensor2D, bOut: tf.zeros([d]),
    });
  }
  const WE = rn([v, d]) as tf.Tensor2D;
  const weights: ModelWeights = {
    WE, WPos: rn([nCtx, d]) as tf.Tensor2D, blocks, lnFinalW: tf.ones([d]), lnFinalB: tf.zeros([d]),
    WU: tf.transpose(WE) as tf.Tensor2D,
  };
  return new HookedTransformer(cfg, weights);
}

export async function benchModelForward(opts: { quick?: boolean } = {}): Promise<object[]> {
  const out: object[] = [];
  const backend = tf.getBackend();
  if (fs.existsSync(path.join(TINY, 'model.safetensors'))) {
    const model = await HookedTransformer.fromFolder(TINY);
    out.push({ bench: 'modelForward', model: 'tiny-gpt2-sotu', backend, ...(await timeForward(model, 8, 128, opts.quick ? 2 : 5)) });
    model.dispose();
  } else {
    out.push({ bench: 'modelForward', model: 'tiny-gpt2-sotu', backend, skipped: `${TINY} is absent` });
  }
  const big = randomGpt2Small();
  out.push({ bench: 'modelForward', model: 'random-gpt2-small', params: big.numParams, backend, ...(await timeForward(big, 4, 128, opts.quick ? 1 : 3)) });
  big.dispose();
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await selectBackend({ log: (l) => console.error(l) });
  for (const r of await benchModelForward({ quick: process.argv.includes('--quick') })) console.log(JSON.stringify(r));
}
