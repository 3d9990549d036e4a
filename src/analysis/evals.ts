/**
 * SAE evaluations (DESIGN.md §5, SAELens v1.5.0 `training/evals.py` `run_evals`): how much of
 * the model's next-token loss survives when the SAE's reconstruction replaces the activation
 * at its hook, against the clean model and the hook zero-ablated, plus reconstruction and
 * sparsity statistics of the SAE on the same held-out tokens.
 *
 * Metric names are SAELens's (without the `metrics/` section) so sinks map them back:
 *   ce_loss_without_sae, ce_loss_with_sae, ce_loss_with_ablation, ce_loss_score (SAELens
 *   CE_loss_score), kl_div, l2_norm, l2_norm_in, l2_ratio; and beyond run_evals, measured on
 *   the eval tokens: explained_variance, explained_variance_std, l0, dead_feature_fraction,
 *   dense_feature_fraction, mean_log10_feature_sparsity, below_1e-5, below_1e-6.
 * Histograms: W_dec_norms (decoder row norms), b_e (b_enc), feature_density (log10 of each
 * feature's firing frequency on the eval tokens, + 1e-10).
 *
 * As SAELens: the CE losses are per-batch means of the next-token loss, averaged over batches;
 * the score is computed per batch, `(L_zero − L_sae) / (L_zero − L_clean)` with a denominator
 * below 1e-4 in magnitude replaced by 1, then averaged. KL is `KL(clean ‖ spliced)` summed
 * over the vocabulary and averaged over every token position (SAELens v1.5 divides the
 * same sum by the number of sequences instead, `reduction="batchmean"`; that number is
 * reported too, as `kl_div_per_sequence`).
 *
 * Transcoders (an SAE whose cfg has `hookPointOut`): the output replaces the *target* hook in
 * the forward pass (e.g. `blocks.L.hook_mlp_out`, the MLP's output, computed from the input hook
 * `blocks.L.ln2.hook_normalized`), so the CE losses are clean vs target hook zero-ablated vs
 * transcoder spliced in, and every reconstruction statistic (explained variance, L2 ratio) is of
 * the output against the target hook's activations. Transcoders also get `fvu`, the fraction of
 * variance unexplained over all eval tokens: Σ‖ŷ − y‖² / Σ‖y − ȳ‖² (ȳ the batch mean).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import type { HookedTransformer } from '../model/HookedTransformer.js';
import type { TokenBatch } from '../stream/TokenBatch.js';
import { nextTokenLogits, softmaxParts, sumLastAxisChunked } from '../model/loss.js';
import type { Sae } from '../sae/Sae.js';
import type { Histogram } from '../stream/TrainEvent.js';

/** Token ids of held-out sequences: a TokenBatch (`n` rows of `contextSize`), a 2-D int tensor, or rows. */
export type EvalTokens =
  | TokenBatch
  | tf.Tensor2D
  | readonly (readonly number[])[];

export interface RunEvalsOptions {
  /** The hook the SAE reads and is spliced into (default: the SAE's cfg.hookPoint). */
  readonly hookPoint?: string;
  /**
   * For `attn.hook_q|k|v|z` hooks `[batch, pos, heads, d_head]`: the one head the SAE reads
   * (default: the SAE's cfg.hookPointHeadIndex); null reads all heads flattened (heads·d_head).
   */
  readonly headIndex?: number | null;
  /**
   * The norm scaling factor the SAE's weights expect (inputs x·s): an SAE still training on
   * normalized activations. The reconstruction is divided by s before it is spliced in, and
   * the statistics are in the model's own units. Default: none (a saved SAE has s folded in).
   */
  readonly normScalingFactor?: number;
  /**
   * Transcoders: the target hook the output replaces (default: the SAE's cfg.hookPointOut), and
   * the target's norm scaling factor (the output is divided by it; default: the input's factor
   * when only that is given, as for an SAE, else none).
   */
  readonly hookPointOut?: string;
  readonly targetNormScalingFactor?: number;
  /** A feature is dead when its firing frequency on the eval tokens is ≤ this. Default 0 (never fired). */
  readonly deadThreshold?: number;
  /** A feature is dense when it fires on more than this fraction of eval tokens. Default 0.1. */
  readonly denseThreshold?: number;
  /** Bins of each histogram. Default 50. */
  readonly histogramBins?: number;
  /**
   * Logits per model pass at most (rows·positions·vocab); longer batches run in slices of
   * sequences with the same results. Default 2^24 (64 MB of float32 per logits tensor).
   */
  readonly maxLogitElements?: number;
}

export interface EvalResult {
  readonly metrics: Record<string, number>;
  readonly histograms: Record<string, Histogram>;
  /** Token batches evaluated and rows (token positions) seen by the SAE. */
  readonly batches: number;
  readonly tokens: number;
  /** Wall time of the whole evaluation (ms): three model passes per batch plus the SAE. */
  readonly ms: number;
}

const HEAD_HOOK = /(^|\.)hook_(q|k|v|z)$/;

/** Whether a hook's activation has a heads axis (`[batch, pos, heads, d_head]`), as SAELens decides. */
export function isHeadHook(hookPoint: string): boolean {
  return HEAD_HOOK.test(hookPoint);
}

function tokenTensor(t: EvalTokens, i: number): tf.Tensor2D {
  if (t instanceof tf.Tensor) {
    if (t.rank !== 2) throw new ShapeError(`runEvals(): token batch ${i} must be 2-D [n, context], got [${t.shape}]`);
    return (t.dtype === 'int32' ? tf.clone(t) : tf.cast(t, 'int32')) as tf.Tensor2D;
  }
  if (Array.isArray(t)) {
    const rows = t as readonly (readonly number[])[];
    if (rows.length === 0) throw new ShapeError(`runEvals(): token batch ${i} has no rows`);
    const P = rows[0]!.length;
    const flat = new Int32Array(rows.length * P);
    rows.forEach((r, j) => {
      if (r.length !== P) throw new ShapeError(`runEvals(): token batch ${i} row ${j} has ${r.length} tokens, expected ${P}`);
      flat.set(r, j * P);
    });
    return tf.tensor2d(flat, [rows.length, P], 'int32');
  }
  const b = t as TokenBatch;
  if (!(b.tokens instanceof Int32Array) || b.tokens.length !== b.n * b.contextSize)
    throw new ShapeError(`runEvals(): token batch ${i} has ${b.tokens?.length} tokens, expected n·contextSize = ${b.n}·${b.contextSize}`);
  return tf.tensor2d(b.tokens, [b.n, b.contextSize], 'int32');
}

/** Equal-width histogram of `values` (a degenerate range is widened by ±0.5). */
export function histogram(values: ArrayLike<number>, bins = 50): Histogram {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return { edges: [0, 1], counts: [0] };
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const w = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * w));
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor((v - lo) / w))]!++;
  }
  return { edges, counts };
}

interface HookView {
  /** SAE input rows from the hook's activation. */
  toRows(act: tf.Tensor): tf.Tensor2D;
  /** The activation with the SAE's rows put back (same shape as `act`). */
  fromRows(act: tf.Tensor, rows: tf.Tensor2D): tf.Tensor;
}

function hookView(hookPoint: string, headIndex: number | null, dIn: number): HookView {
  const heads = isHeadHook(hookPoint);
  const check = (act: tf.Tensor, d: number) => {
    if (d !== dIn)
      throw new ShapeError(`runEvals(): hook '${hookPoint}' gives SAE inputs of width ${d} (activation [${act.shape}]${headIndex !== null ? `, head ${headIndex}` : ''}), the SAE has d_in ${dIn}`);
  };
  if (heads && headIndex !== null) {
    return {
      toRows(act) {
        const [B, P, H, dh] = act.shape as [number, number, number, number];
        if (headIndex < 0 || headIndex >= H) throw new ConfigError(`runEvals(): headIndex ${headIndex} is not a head of '${hookPoint}' (${H} heads)`);
        check(act, dh);
        return tf.reshape(tf.slice(act, [0, 0, headIndex, 0], [B, P, 1, dh]), [B * P, dh]) as tf.Tensor2D;
      },
      fromRows(act, rows) {
        const [B, P, H, dh] = act.shape as [number, number, number, number];
        const parts: tf.Tensor[] = [];
        if (headIndex > 0) parts.push(tf.slice(act, [0, 0, 0, 0], [B, P, headIndex, dh]));
        parts.push(tf.reshape(rows, [B, P, 1, dh]));
        if (headIndex < H - 1) parts.push(tf.slice(act, [0, 0, headIndex + 1, 0], [B, P, H - headIndex - 1, dh]));
        return parts.length === 1 ? parts[0]! : tf.concat(parts, 2);
      },
    };
  }
  if (!heads && headIndex !== null) throw new ConfigError(`runEvals(): headIndex ${headIndex} given, but '${hookPoint}' has no heads axis`);
  return {
    toRows(act) {
      const d = heads ? act.shape[2]! * act.shape[3]! : act.shape[act.rank - 1]!;
      check(act, d);
      return tf.reshape(act, [-1, d]) as tf.Tensor2D;
    },
    fromRows(act, rows) {
      return tf.reshape(rows, act.shape);
    },
  };
}

/** Σ of next-token losses (positions 0..P−2 of each row) from lse [B·P] and target logits. */
function lossSum(lse: tf.Tensor1D, target: tf.Tensor1D, B: number, P: number): tf.Scalar {
  const l = tf.slice(tf.reshape(lse, [B, P]), [0, 0], [B, P - 1]);
  return tf.sum(tf.sub(tf.reshape(l, [-1]), target));
}

/**
 * Where the SAE reads and where its output goes: for an SAE the same hook; for a transcoder the
 * input hook and the target hook (`out`), each with its view and norm scaling factor.
 */
interface EvalSites {
  readonly inHook: string;
  readonly inView: HookView;
  readonly sIn: number | undefined;
  readonly outHook: string;
  readonly outView: HookView;
  readonly sOut: number | undefined;
}

/** One slice of a token batch: three model passes and the SAE. Runs inside the caller's tidy. */
function evalSlice(model: HookedTransformer, sae: Sae, tok: tf.Tensor2D, site: EvalSites) {
  const [B, P] = tok.shape;
  const V = model.cfg.dVocab;
  const { inHook, outHook, sIn: s, sOut } = site;
  const clean = model.run(tok, { names: inHook === outHook ? [inHook] : [inHook, outHook], returnType: 'logits' });
  const actIn = clean.cache.get(inHook);
  if (!actIn) throw new ConfigError(`runEvals(): the model produced no activation at '${inHook}'`);
  const act = clean.cache.get(outHook);
  if (!act) throw new ConfigError(`runEvals(): the model produced no activation at '${outHook}'`);
  const xIn = site.inView.toRows(actIn);
  // what the output should reconstruct: the input itself (SAE), or the target hook's rows
  const x = inHook === outHook ? xIn : site.outView.toRows(act);
  const f = sae.forward(s === undefined ? xIn : (tf.mul(xIn, s) as tf.Tensor2D));
  const out = sOut === undefined ? f.out : (tf.div(f.out, sOut) as tf.Tensor2D);
  // The spliced pass sees the same activations up to the replaced hook as the clean pass
  // (everything before it is unchanged; a transcoder's input hook comes before its target), so
  // the output computed above is the one to put in.
  const spliced = site.outView.fromRows(act, out);
  const xc = tf.reshape(clean.output!, [B * P, V]) as tf.Tensor2D;
  const xsae = tf.reshape(model.run(tok, { hooks: { [outHook]: () => spliced }, returnType: 'logits' }).output!, [B * P, V]) as tf.Tensor2D;
  const zeroLoss = model.run(tok, { hooks: { [outHook]: (a) => tf.zerosLike(a) }, returnType: 'lossPerToken' }).output as tf.Tensor2D;
  const pc = softmaxParts(xc);
  const ps = softmaxParts(xsae);
  // KL(p‖q) = Σ p·(log p − log q) = Σ p·(x_c − x_s) − lse_c + lse_s, with p = e_c / z_c
  const cross = tf.div(sumLastAxisChunked(tf.mul(pc.e, tf.sub(xc, xsae)) as tf.Tensor2D), pc.z);
  const kl = tf.add(tf.sub(cross, pc.lse), ps.lse);

  const l2In = tf.norm(x, 'euclidean', -1);
  const l2Out = tf.norm(out, 'euclidean', -1);
  // SAELens: inputs with a norm below 1e-4 divide by 1.
  const ratio = tf.div(l2Out, tf.where(tf.less(tf.abs(l2In), 1e-4), tf.onesLike(l2In), l2In));
  const active = tf.cast(tf.greater(f.featureActs, 0), 'float32');
  return {
    scalars: tf.stack([
      lossSum(pc.lse, nextTokenLogits(xc, tok), B, P), lossSum(ps.lse, nextTokenLogits(xsae, tok), B, P), tf.sum(zeroLoss), tf.sum(kl),
      tf.sum(l2In), tf.sum(l2Out), tf.sum(ratio), tf.sum(active),
    ]),
    firedPerFeature: tf.sum(active, 0),
    residSq: tf.sum(tf.square(tf.sub(out, x)), -1),
    x, // kept by the caller's tidy: no copy needed
  };
}

/**
 * Runs the evals of `sae` on `model` over held-out token batches (never the training stream).
 * Synchronous; every tensor it makes is freed. Three forward passes per batch (clean with the
 * hook cached, SAE spliced, hook zero-ablated) and one SAE forward pass.
 */
export function runEvals(
  model: HookedTransformer,
  sae: Sae,
  tokenBatches: Iterable<EvalTokens>,
  opts: RunEvalsOptions = {},
): EvalResult {
  const t0 = performance.now();
  const hookPoint = opts.hookPoint ?? sae.cfg.hookPoint;
  const headIndex = opts.headIndex !== undefined ? opts.headIndex : sae.cfg.hookPointHeadIndex;
  const s = opts.normScalingFactor;
  if (s !== undefined && !(s > 0 && Number.isFinite(s))) throw new ConfigError(`runEvals(): normScalingFactor must be a positive number, got ${s}`);
  const hookPointOut = opts.hookPointOut ?? sae.cfg.hookPointOut;
  const transcoder = hookPointOut !== undefined;
  const sOut = transcoder ? (opts.targetNormScalingFactor ?? s) : s;
  if (sOut !== undefined && !(sOut > 0 && Number.isFinite(sOut))) throw new ConfigError(`runEvals(): targetNormScalingFactor must be a positive number, got ${sOut}`);
  const deadThreshold = opts.deadThreshold ?? 0;
  const denseThreshold = opts.denseThreshold ?? 0.1;
  const bins = opts.histogramBins ?? 50;
  if (!Number.isInteger(bins) || bins < 1) throw new ConfigError(`runEvals(): histogramBins must be a positive integer, got ${bins}`);
  const view = hookView(hookPoint, headIndex ?? null, sae.cfg.dIn);
  const site: EvalSites = transcoder
    ? {
      inHook: hookPoint, inView: view, sIn: s,
      outHook: hookPointOut, outView: hookView(hookPointOut, isHeadHook(hookPointOut) ? (sae.cfg.hookPointOutHeadIndex ?? null) : null, sae.cfg.dOut ?? sae.cfg.dIn), sOut,
    }
    : { inHook: hookPoint, inView: view, sIn: s, outHook: hookPoint, outView: view, sOut: s };
  const dSae = sae.cfg.dSae;

  const V = model.cfg.dVocab;
  const maxLogits = opts.maxLogitElements ?? 1 << 24;
  if (!(Number.isInteger(maxLogits) && maxLogits > 0)) throw new ConfigError(`runEvals(): maxLogitElements must be a positive integer, got ${maxLogits}`);

  let batches = 0;
  let tokens = 0;
  const sum = { clean: 0, sae: 0, zero: 0, score: 0, kl: 0, klSeq: 0, l2In: 0, l2Out: 0, l2Ratio: 0, ev: 0, ev2: 0, l0: 0, resid: 0, variance: 0 };
  let klPositions = 0;
  const fired = new Float64Array(dSae);

  for (const tb of tokenBatches) {
    const tok = tokenTensor(tb, batches);
    try {
      const [B, P] = tok.shape;
      if (P < 2) throw new ShapeError(`runEvals(): token batch ${batches} has ${P} positions; next-token loss needs ≥ 2`);
      // Sequences per pass: logits [rows, P, V] of two passes and their exponentials are alive
      // at once, so a batch runs in slices of at most maxLogitElements logits (wasm memory).
      const per = Math.max(1, Math.floor(maxLogits / (P * V)));
      let clean = 0;
      let withSae = 0;
      let zero = 0;
      let klSum = 0;
      // per-token squared reconstruction error and the inputs: explained variance needs the
      // mean of x over the whole batch, known only after the last slice
      const residSq = new Float64Array(B * P);
      let xs: Float32Array | undefined;
      for (let r0 = 0; r0 < B; r0 += per) {
        const rows = Math.min(per, B - r0);
        const part = rows === B ? tok : (tf.slice(tok, [r0, 0], [rows, P]) as tf.Tensor2D);
        try {
          const st = tf.tidy(() => evalSlice(model, sae, part, site));
          const v = st.scalars.dataSync();
          const fpf = st.firedPerFeature.dataSync();
          const rs = st.residSq.dataSync();
          const x = st.x.dataSync() as Float32Array;
          tf.dispose([st.scalars, st.firedPerFeature, st.residSq, st.x]);
          clean += v[0]!;
          withSae += v[1]!;
          zero += v[2]!;
          klSum += v[3]!;
          sum.l2In += v[4]!;
          sum.l2Out += v[5]!;
          sum.l2Ratio += v[6]!;
          sum.l0 += v[7]!;
          for (let i = 0; i < dSae; i++) fired[i]! += fpf[i]!;
          residSq.set(rs, r0 * P);
          if (!xs) xs = new Float32Array(B * P * (x.length / (rows * P)));
          xs.set(x, r0 * P * (x.length / (rows * P)));
        } finally {
          if (part !== tok) part.dispose();
        }
      }
      // SAELens: means over the batch's B·(P−1) next-token losses, then the score of the batch.
      const n = B * (P - 1);
      const [cl, sl, zl] = [clean / n, withSae / n, zero / n];
      let div = zl - cl;
      if (Math.abs(div) < 1e-4) div = 1;
      sum.clean += cl;
      sum.sae += sl;
      sum.zero += zl;
      sum.score += (zl - sl) / div;
      sum.kl += klSum;
      sum.klSeq += klSum / B;
      klPositions += B * P;
      const d = xs!.length / (B * P);
      const mu = new Float64Array(d);
      for (let t = 0; t < B * P; t++) for (let j = 0; j < d; j++) mu[j]! += xs![t * d + j]!;
      for (let j = 0; j < d; j++) mu[j]! /= B * P;
      for (let t = 0; t < B * P; t++) {
        let variance = 0;
        for (let j = 0; j < d; j++) variance += (xs![t * d + j]! - mu[j]!) ** 2;
        const ev = 1 - residSq[t]! / variance;
        sum.ev += ev;
        sum.ev2 += ev * ev;
        sum.resid += residSq[t]!;
        sum.variance += variance;
      }
      tokens += B * P;
      batches++;
    } finally {
      tok.dispose();
    }
  }
  if (batches === 0) throw new ConfigError('runEvals(): no token batches to evaluate on');

  const freq = new Float32Array(dSae);
  for (let i = 0; i < dSae; i++) freq[i] = fired[i]! / tokens;
  const logDensity = new Float32Array(dSae);
  for (let i = 0; i < dSae; i++) logDensity[i] = Math.log10(Math.fround(freq[i]! + 1e-10));
  let dead = 0;
  let dense = 0;
  let below5 = 0;
  let below6 = 0;
  let meanLog = 0;
  for (let i = 0; i < dSae; i++) {
    if (freq[i]! <= deadThreshold) dead++;
    if (freq[i]! > denseThreshold) dense++;
    if (freq[i]! < 1e-5) below5++;
    if (freq[i]! < 1e-6) below6++;
    meanLog += logDensity[i]!;
  }
  const evMean = sum.ev / tokens;
  // SAELens reports torch's std (unbiased) of the per-token explained variance
  const evStd = tokens > 1 ? Math.sqrt(Math.max(0, (sum.ev2 - tokens * evMean * evMean) / (tokens - 1))) : 0;

  const decNorms = tf.tidy(() => tf.norm(sae.W_dec, 'euclidean', 1)) as tf.Tensor1D;
  const normValues = decNorms.dataSync() as Float32Array;
  decNorms.dispose();
  const bEnc = sae.b_enc.dataSync() as Float32Array;

  return {
    metrics: {
      ce_loss_score: sum.score / batches,
      ce_loss_without_sae: sum.clean / batches,
      ce_loss_with_sae: sum.sae / batches,
      ce_loss_with_ablation: sum.zero / batches,
      kl_div: sum.kl / klPositions,
      kl_div_per_sequence: sum.klSeq / batches,
      l2_norm: sum.l2Out / tokens,
      l2_norm_in: sum.l2In / tokens,
      l2_ratio: sum.l2Ratio / tokens,
      explained_variance: evMean,
      explained_variance_std: evStd,
      l0: sum.l0 / tokens,
      dead_feature_fraction: dead / dSae,
      dense_feature_fraction: dense / dSae,
      mean_log10_feature_sparsity: meanLog / dSae,
      'below_1e-5': below5,
      'below_1e-6': below6,
      ...(transcoder ? { fvu: sum.resid / sum.variance } : {}),
    },
    histograms: {
      W_dec_norms: histogram(normValues, bins),
      b_e: histogram(bEnc, bins),
      feature_density: histogram(logDensity, bins),
    },
    batches,
    tokens,
    ms: performance.now() - t0,
  };
}
