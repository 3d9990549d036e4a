/**
 * SAELens v1.5's Neuronpedia runner on a model, an SAE and a token set: the features whose log10
 * density is above the threshold, in batches of `featuresPerBatch` (split as np.array_split),
 * each written as `batch-N.json` (N from 1; an existing file is kept and skipped, as the runner
 * does), and `skipped_indexes.json` with the others. Like sae_vis, the token set is held in
 * memory (hook activations and final residual of every token, and the batch's feature
 * activations): size it as the runner's `n_prompts_to_select`.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomicWrite.js';
import type { HookedTransformer } from '../model/HookedTransformer.js';
import type { Sae } from '../sae/Sae.js';
import { DEFAULT_SPARSITY_THRESHOLD, neuronpediaExport, neuronpediaSkippedIndexes } from './neuronpedia.js';
import { type SaeVisOptions, saeVisFeatureData } from './saeVisFeatureData.js';

export interface NeuronpediaRunOptions extends SaeVisOptions {
  readonly outputsDir: string;
  readonly modelId: string;
  readonly layer: number | string;
  readonly saeId: string;
  /** Token ids `[nSeq, seqLen]` (the runner's sampled prompts). */
  readonly tokens: Int32Array;
  readonly nSeq: number;
  readonly seqLen: number;
  /** Feature sparsity from sparsity.safetensors: log10 densities, or plain frequencies (converted as the runner does). */
  readonly sparsity: ArrayLike<number>;
  /** Vocabulary strings by id (tokenizer.json's model.vocab). */
  readonly vocab: readonly string[];
  readonly sparsityThreshold?: number;
  /** Features per batch file (runner: 128). */
  readonly featuresPerBatch?: number;
  /** Batches to write, 1-based and inclusive (runner: start_batch_inclusive, end_batch_inclusive). */
  readonly startBatch?: number;
  readonly endBatch?: number;
  /** The runner's n_batches_to_sample_from and n_prompts_to_select, recorded in each file. */
  readonly nBatchesToSampleFrom?: number;
  readonly nPromptsToSelect?: number;
  /** Sequences per model pass (sae_vis minibatch_size_tokens: 64). */
  readonly minibatch?: number;
}

/** np.array_split of `xs` into ceil(len / size) parts (the first ones one longer). */
export function arraySplit<T>(xs: readonly T[], size: number): T[][] {
  if (xs.length === 0) return [];
  const n = Math.ceil(xs.length / size);
  const base = Math.floor(xs.length / n), extra = xs.length % n;
  const out: T[][] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const len = base + (i < extra ? 1 : 0);
    out.push(xs.slice(at, at + len));
    at += len;
  }
  return out;
}

/** What each feature writes to the residual stream (sae_vis to_resid_dir): the decoder row for resid and *_out hooks. */
function residDirFor(hookPoint: string): void {
  if (!(hookPoint.includes('resid') || hookPoint.includes('_out'))) {
    throw new ConfigError(`Neuronpedia runner: hook '${hookPoint}' is not supported (resid and *_out hooks only; sae_vis maps MLP pre/post through W_out, which sae-rx does not expose)`);
  }
}

/** Runs the runner; returns the batch files written (paths) and the features skipped. */
export async function runNeuronpedia(model: HookedTransformer, sae: Sae, o: NeuronpediaRunOptions): Promise<{ written: string[]; skippedExisting: string[]; skipped: number[] }> {
  const hook = sae.cfg.hookPoint;
  residDirFor(hook);
  if (o.tokens.length !== o.nSeq * o.seqLen) throw new ShapeError(`Neuronpedia runner: ${o.tokens.length} tokens, expected nSeq·seqLen = ${o.nSeq}·${o.seqLen}`);
  if (o.sparsity.length !== sae.cfg.dSae) throw new ShapeError(`Neuronpedia runner: sparsity has ${o.sparsity.length} values, the SAE has d_sae ${sae.cfg.dSae}`);
  let logSparsity = Array.from(o.sparsity);
  if (logSparsity.length > 0 && logSparsity[0]! >= 0) logSparsity = logSparsity.map((s) => Math.log10(s + 1e-10));
  const threshold = o.sparsityThreshold ?? DEFAULT_SPARSITY_THRESHOLD;
  const { targets, skipped } = neuronpediaSkippedIndexes(logSparsity, { modelId: o.modelId, layer: o.layer, saeId: o.saeId, threshold });
  await fsp.mkdir(o.outputsDir, { recursive: true });
  await writeFileAtomic(path.join(o.outputsDir, 'skipped_indexes.json'), JSON.stringify(skipped));

  const batches = arraySplit(targets, o.featuresPerBatch ?? 128);
  const start = o.startBatch ?? 0;
  const written: string[] = [], skippedExisting: string[] = [];
  const todo = batches.map((f, i) => ({ features: f, n: i + 1 })).filter((b) => b.n >= start && (o.endBatch === undefined || b.n <= o.endBatch));
  const pending = todo.filter((b) => {
    const file = path.join(o.outputsDir, `batch-${b.n}.json`);
    if (existsSync(file)) skippedExisting.push(file);
    return !existsSync(file);
  });
  if (pending.length === 0) return { written, skippedExisting, skipped: skipped.skipped_indexes };

  // one pass over the tokens: hook activations, final residual stream, every SAE feature's activations for the pending features
  const final = `blocks.${model.cfg.nLayers - 1}.hook_resid_post`;
  const T = o.nSeq * o.seqLen;
  const dIn = sae.cfg.dIn;
  const dModel = model.cfg.dModel;
  const wanted = [...new Set(pending.flatMap((b) => b.features))].sort((a, b) => a - b);
  const col = new Map(wanted.map((f, i) => [f, i]));
  const modelActs = new Float32Array(T * dIn);
  const residPost = new Float32Array(T * dModel);
  const acts = new Float32Array(T * wanted.length);
  const mb = o.minibatch ?? 64;
  for (let s0 = 0; s0 < o.nSeq; s0 += mb) {
    const n = Math.min(mb, o.nSeq - s0);
    const [x, r, f] = tf.tidy(() => {
      const tok = tf.tensor2d(o.tokens.subarray(s0 * o.seqLen, (s0 + n) * o.seqLen), [n, o.seqLen], 'int32');
      const cache = model.run(tok, { names: [hook, final], returnType: 'none' }).cache;
      const xa = tf.reshape(cache.get(hook)!, [n * o.seqLen, dIn]) as tf.Tensor2D;
      const fa = tf.gather(sae.encode(xa), tf.tensor1d(wanted, 'int32'), 1);
      return [xa, tf.reshape(cache.get(final)!, [n * o.seqLen, dModel]), fa];
    });
    modelActs.set(x.dataSync(), s0 * o.seqLen * dIn);
    residPost.set(r.dataSync(), s0 * o.seqLen * dModel);
    acts.set(f.dataSync(), s0 * o.seqLen * wanted.length);
    tf.dispose([x, r, f]);
  }
  const wU = model.unembedWeights();
  const wDec = (sae.W_dec as unknown as tf.Tensor2D).arraySync();
  try {
    for (const b of pending) {
      const F = b.features.length;
      const fa = new Float32Array(T * F);
      for (let t = 0; t < T; t++) b.features.forEach((f, i) => (fa[t * F + i] = acts[t * wanted.length + col.get(f)!]!));
      const out = Float32Array.from(b.features.flatMap((f) => wDec[f]!));
      const data = saeVisFeatureData(
        { tokens: o.tokens, nSeq: o.nSeq, seqLen: o.seqLen, features: b.features, featureActs: fa, modelActs, residPost, featureOutDir: out, featureResidDir: out, wU },
        o,
      );
      const batch = neuronpediaExport({
        modelId: o.modelId,
        layer: o.layer,
        saeId: o.saeId,
        features: data,
        vocab: o.vocab,
        dVocab: model.cfg.dVocab,
        nBatchesToSampleFrom: o.nBatchesToSampleFrom ?? 2 ** 12,
        nPromptsToSelect: o.nPromptsToSelect ?? o.nSeq,
      });
      const file = path.join(o.outputsDir, `batch-${b.n}.json`);
      await writeFileAtomic(file, JSON.stringify(batch));
      written.push(file);
    }
  } finally {
    wU.dispose();
  }
  return { written, skippedExisting, skipped: skipped.skipped_indexes };
}
