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
import { median } from './stats.js';
import { randomTokens } from './randomTokens.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TINY = path.resolve(HERE, '../../shared/models/tiny-gpt2-sotu');

export type ForwardVariant = 'activations' | 'logits';
export type ForwardModel = 'tiny' | 'small';
/** The hook each model's 'activations' variant caches (the pass stops after it). */
export const ACTIVATION_HOOK: Record<ForwardModel, string> = { tiny: 'blocks.1.hook_resid_pre', small: 'blocks.6.hook_resid_pre' };
export const FORWARD_SHAPE: Record<ForwardModel, [number, number]> = { tiny: [8, 128], small: [4, 128] };
export const MODEL_NAME: Record<ForwardModel, string> = { tiny: 'tiny-gpt2-sotu', small: 'random-gpt2-small' };

/**
 * Times `iters` passes (after two warm-ups) of `model` on random tokens: 'logits' the full
 * forward, 'activations' runWithCache(tokens, { names: [hook] }) — what activation
 * generation does, stopping after the block the hook needs.
 */
async function timeForward(model: HookedTransformer, batch: number, pos: number, iters: number, variant: ForwardVariant, hook: string) {
  const tokens = randomTokens(batch, pos, model.cfg.dVocab, 42);
  const once = async () => {
    let out: tf.Tensor;
    let rest: tf.Tensor[] = [];
    if (variant === 'logits') out = model.logits(tokens);
    else {
      const r = model.runWithCache(tokens, { names: [hook] });
      out = r.cache.get(hook)!;
      rest = [...r.cache.values()].filter((t) => t !== out);
      if (r.output) rest.push(r.output);
    }
    // Wait for the backend to finish (async backends), reading one value, not the whole tensor.
    const one = tf.slice(out, new Array(out.rank).fill(0), new Array(out.rank).fill(1));
    await one.data();
    tf.dispose([one, out, ...rest]);
  };
  // Two warm-ups (as model_forward_timing.py): the second pass is still slower than the rest.
  await once();
  await once();
  const ts: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await once();
    ts.push(performance.now() - t0);
  }
  tokens.dispose();
  const ms = median(ts);
  return {
    variant, ...(variant === 'activations' ? { hook } : {}), batch, pos, iters,
    msPerForward: +ms.toFixed(2), msPerForwardAll: ts.map((t) => +t.toFixed(2)), tokensPerSec: Math.round((batch * pos * 1000) / ms),
  };
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

export interface ModelForwardOptions {
  quick?: boolean;
  /** Only cases whose name (`modelForward/<model name>/<variant>`) contains this. */
  filter?: string;
  models?: ForwardModel[];
  variants?: ForwardVariant[];
  /** Timed passes per case (default: tiny 5, small 3; --quick 2 and 1). */
  iters?: number;
}

export async function benchModelForward(opts: ModelForwardOptions = {}): Promise<object[]> {
  const out: object[] = [];
  const backend = tf.getBackend();
  const variants = opts.variants ?? ['activations', 'logits'];
  for (const m of opts.models ?? ['tiny', 'small']) {
    const todo = variants.filter((v) => opts.filter === undefined || `modelForward/${MODEL_NAME[m]}/${v}`.includes(opts.filter));
    if (todo.length === 0) continue;
    if (m === 'tiny' && !fs.existsSync(path.join(TINY, 'model.safetensors'))) {
      out.push({ bench: 'modelForward', model: MODEL_NAME[m], backend, skipped: `${TINY} is absent` });
      continue;
    }
    const model = m === 'tiny' ? await HookedTransformer.fromFolder(TINY) : randomGpt2Small();
    const iters = opts.iters ?? (m === 'tiny' ? (opts.quick ? 2 : 5) : opts.quick ? 1 : 3);
    const [batch, pos] = FORWARD_SHAPE[m];
    try {
      for (const v of todo) {
        const r = await timeForward(model, batch, pos, iters, v, ACTIVATION_HOOK[m]);
        out.push({ bench: 'modelForward', name: `modelForward/${MODEL_NAME[m]}/${v}`, model: MODEL_NAME[m], ...(m === 'small' ? { params: model.numParams } : {}), backend, ...r });
      }
    } finally {
      model.dispose();
    }
  }
  return out;
}

/** `npx tsx bench/modelForward.ts [--quick] [--model tiny|small] [--variant activations|logits] [--iters N]`. */
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const all = (flag: string) => argv.flatMap((a, i) => (argv[i - 1] === flag ? [a] : []));
  const models = all('--model') as ForwardModel[];
  const variants = all('--variant') as ForwardVariant[];
  const iters = all('--iters')[0];
  await selectBackend({ log: (l) => console.error(l) });
  const lines = await benchModelForward({
    quick: argv.includes('--quick'),
    ...(models.length ? { models } : {}), ...(variants.length ? { variants } : {}), ...(iters !== undefined ? { iters: Number(iters) } : {}),
  });
  // Peak RSS of this process so far (one case per process reads it per case).
  for (const r of lines) console.log(JSON.stringify({ ...r, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}
