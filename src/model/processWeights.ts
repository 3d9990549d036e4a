/**
 * TransformerLens's default weight processing (`HookedTransformer.from_pretrained` with
 * fold_ln, center_writing_weights, center_unembed, fold_value_biases). None of it changes the
 * model's output distribution; it changes what the hooks see:
 * - fold_ln: the norm's weight scales the rows of the next linear layers' weights, its bias is
 *   pushed through them into their biases, and (LayerNorm only) those reading weights are
 *   centered over d_model, since their input is centered anyway. The norm becomes LNPre/RMSPre.
 * - center_writing_weights (LayerNorm models only): everything that writes to the residual
 *   stream (W_E, W_pos, W_O, b_O, W_out, b_out) is centered over d_model, so the residual stream
 *   is centered, which LayerNorm would have done.
 * - center_unembed: W_U and b_U centered over the vocabulary (softmax is shift-invariant).
 * - fold_value_biases: b_V @ W_O is a constant (the pattern sums to 1), moved into b_O.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { HookedTransformerConfig } from './ModelConfig.js';
import type { BlockWeights, ModelWeights } from './weights.js';
import { disposeWeights, weightTensors } from './weights.js';
import { sumLastAxisChunked } from './loss.js';

type T1 = tf.Tensor1D;
type T2 = tf.Tensor2D;

/** `W * w[:, None]`, then `+ b @ W` into the bias, then optionally centered over d_model rows. */
function foldInto(W: T2, bias: T1 | undefined, lnW: T1 | undefined, lnB: T1 | undefined, center: boolean): [T2, T1 | undefined] {
  let newBias = bias;
  if (lnB !== undefined) {
    const pushed = tf.reshape(tf.matMul(tf.reshape(lnB, [1, -1]), W), [-1]) as T1;
    newBias = bias === undefined ? pushed : (tf.add(bias, pushed) as T1);
  }
  let newW = lnW === undefined ? W : (tf.mul(W, tf.reshape(lnW, [-1, 1])) as T2);
  if (center) newW = tf.sub(newW, tf.mean(newW, 0, true)) as T2;
  return [newW, newBias];
}

/**
 * Mean over the last axis of a 2-D tensor, keepDims, summed in chunks (loss.ts): the stock
 * float32 Sum adds sequentially, which over a 50k vocabulary is off by ~1e-4 relative.
 */
function meanLastAxis(W: T2): T2 {
  const [r, c] = W.shape;
  if (c <= 256) return tf.mean(W, 1, true);
  return tf.div(tf.reshape(sumLastAxisChunked(W), [r, 1]), c) as T2;
}

function centerRows(W: T2): T2 {
  return tf.sub(W, meanLastAxis(W)) as T2;
}

function center1(b: T1 | undefined): T1 | undefined {
  return b === undefined ? undefined : (tf.sub(b, tf.reshape(meanLastAxis(tf.reshape(b, [1, -1])), [1])) as T1);
}

/** TransformerLens `from_pretrained`'s processing flags; each defaults to true. */
export interface WeightProcessingOptions {
  readonly foldLn?: boolean;
  readonly centerWritingWeights?: boolean;
  readonly centerUnembed?: boolean;
  readonly foldValueBiases?: boolean;
}

/**
 * Returns processed copies of `w` (the input is disposed) and sets `cfg.normalizationType`
 * (LN → LNPre, RMS → RMSPre, when folding) and `cfg.weightsProcessed`.
 */
export function processWeights(cfg: HookedTransformerConfig, w: ModelWeights, opts: WeightProcessingOptions = {}): ModelWeights {
  if (cfg.weightsProcessed) return w;
  const fold = opts.foldLn !== false;
  const isLN = fold && cfg.normalizationType === 'LN';
  const isRMS = fold && cfg.normalizationType === 'RMS';
  // As in TransformerLens, centering the writing weights is only sound when a LayerNorm (which
  // centers its input) reads the residual stream.
  const centerWriting = opts.centerWritingWeights !== false && (cfg.normalizationType === 'LN' || cfg.normalizationType === 'LNPre');
  const out = tf.tidy(() => {
    // --- fold_ln ---
    const blocks: BlockWeights[] = w.blocks.map((b) => {
      if (!isLN && !isRMS) return { ...b };
      const [WQ, bQ] = foldInto(b.WQ, b.bQ, b.ln1W, b.ln1B, isLN);
      const [WK, bK] = foldInto(b.WK, b.bK, b.ln1W, b.ln1B, isLN);
      const [WV, bV] = foldInto(b.WV, b.bV, b.ln1W, b.ln1B, isLN);
      const [WIn, bIn] = foldInto(b.WIn, b.bIn, b.ln2W, b.ln2B, isLN);
      const nb: BlockWeights = { WQ, WK, WV, WO: b.WO, WIn, WOut: b.WOut };
      if (bQ) nb.bQ = bQ;
      if (bK) nb.bK = bK;
      if (bV) nb.bV = bV;
      if (b.bO) nb.bO = b.bO;
      if (bIn) nb.bIn = bIn;
      if (b.bOut) nb.bOut = b.bOut;
      // TransformerLens scales W_gate by the norm weight but neither biases nor centers it.
      if (b.WGate) nb.WGate = foldInto(b.WGate, undefined, b.ln2W, undefined, false)[0];
      return nb;
    });
    // (a model loaded for its activations only has no W_U: ln_final then folds into nothing)
    let WU = w.WU;
    let bU = w.bU;
    if (w.WU && (isLN || isRMS)) [WU, bU] = foldInto(w.WU, w.bU, w.lnFinalW, w.lnFinalB, isLN);

    // --- center_writing_weights (LayerNorm models only) ---
    let WE = w.WE;
    let WPos = w.WPos;
    if (centerWriting) {
      WE = centerRows(WE);
      if (WPos) WPos = centerRows(WPos);
      for (const b of blocks) {
        b.WO = centerRows(b.WO);
        b.bO = center1(b.bO);
        b.WOut = centerRows(b.WOut);
        b.bOut = center1(b.bOut);
      }
    }

    // --- center_unembed ---
    if (WU && opts.centerUnembed !== false) {
      WU = centerRows(WU);
      bU = center1(bU);
    }

    // --- fold_value_biases ---
    for (const b of blocks) {
      if (b.bV === undefined || opts.foldValueBiases === false) continue;
      let bV = b.bV;
      const group = cfg.nHeads / cfg.nKvHeads;
      if (group > 1) {
        // Query head h reads kv head floor(h / group): repeat each kv head's bias group times.
        const v = tf.reshape(bV, [cfg.nKvHeads, 1, cfg.dHead]);
        bV = tf.reshape(tf.tile(v, [1, group, 1]), [cfg.nHeads * cfg.dHead]) as T1;
      }
      const pushed = tf.reshape(tf.matMul(tf.reshape(bV, [1, -1]), b.WO), [-1]) as T1;
      b.bO = b.bO === undefined ? pushed : (tf.add(b.bO, pushed) as T1);
      delete b.bV;
    }
    for (const b of blocks) for (const k of Object.keys(b) as Array<keyof BlockWeights>) if (b[k] === undefined) delete b[k];
    const res: ModelWeights = { WE, blocks };
    if (WU) res.WU = WU;
    if (WPos) res.WPos = WPos;
    if (bU) res.bU = bU;
    if (!isLN && !isRMS) {
      if (w.lnFinalW) res.lnFinalW = w.lnFinalW;
      if (w.lnFinalB) res.lnFinalB = w.lnFinalB;
    }
    // Clone whatever was carried over unchanged, so disposing the input cannot free it.
    const inputs = new Set(weightTensors(w));
    const cloneAll = (o: Record<string, tf.Tensor | undefined>) => {
      for (const k of Object.keys(o)) {
        const t = o[k];
        if (t !== undefined && inputs.has(t)) o[k] = tf.clone(t);
      }
    };
    cloneAll(res as unknown as Record<string, tf.Tensor | undefined>);
    for (const b of blocks) cloneAll(b as unknown as Record<string, tf.Tensor | undefined>);
    return res as unknown as tf.TensorContainer;
  }) as unknown as ModelWeights;
  disposeWeights(w);
  if (isLN) cfg.normalizationType = 'LNPre';
  if (isRMS) cfg.normalizationType = 'RMSPre';
  cfg.weightsProcessed = true;
  return out;
}
