/**
 * The per-feature data sae_vis (v0.2.18, the version SAELens v1.5 depends on) computes for a
 * feature-centric dashboard, as SAELens v1.5's Neuronpedia runner configures it, from data held
 * in memory (as sae_vis holds it): the token set, the chosen features' activations on it, the
 * hook activations and the final residual stream. Numbers follow sae_vis's float32 formulas:
 * - logits table and histogram of `W_dec[f] · W_U` (top/bottom k; torch.histc over [min, max]);
 * - activation histogram of the non-zero activations, and the density as its title prints it;
 * - tables: neuron alignment (top decoder entries and their share of the row's L1 norm),
 *   correlated neurons (Pearson over tokens with the hook activations) and correlated features
 *   (Pearson among the chosen features, self excluded), each with the cosine similarity;
 * - sequence groups: the top activations, then `nQuantiles` equal intervals of [0, max] with up to
 *   `quantileGroupSize` random tokens each (zeros included in the lowest, as sae_vis does); every
 *   sequence is the bold token's whole row minus its first token, with per token the feature's
 *   activation, the loss change and the top/bottom logit changes when the feature's output on
 *   the previous token is removed from the final residual stream (normalized by its std).
 * The random draws use the project's seeded generator, not torch's: the same distribution as
 * sae_vis, not the same tokens.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { seededRandom } from '../stream/rng.js';

export interface SaeVisInputs {
  /** Token ids `[nSeq, seqLen]`, row-major. */
  readonly tokens: Int32Array;
  readonly nSeq: number;
  readonly seqLen: number;
  /** Feature ids, in the order of the activation columns. */
  readonly features: readonly number[];
  /** The chosen features' activations `[nSeq·seqLen, features]`. */
  readonly featureActs: Float32Array;
  /** Hook activations `[nSeq·seqLen, dIn]` (for the correlated-neurons table). */
  readonly modelActs: Float32Array;
  /** Final residual stream before ln_final `[nSeq·seqLen, dModel]`. */
  readonly residPost: Float32Array;
  /** Decoder rows of the features `[features, dIn]`. */
  readonly featureOutDir: Float32Array;
  /** What each feature writes to the residual stream `[features, dModel]` (= featureOutDir for resid/_out hooks). */
  readonly featureResidDir: Float32Array;
  /** Unembedding `[dModel, vocab]` (not disposed). */
  readonly wU: tf.Tensor2D;
}

export interface SaeVisOptions {
  /** Neuronpedia runner: 5, 20, 5. */
  readonly nQuantiles?: number;
  readonly topActsGroupSize?: number;
  readonly quantileGroupSize?: number;
  /** Rows of the logits table (10), of the feature tables (3), tokens in each hover list (5). */
  readonly logitsRows?: number;
  readonly tableRows?: number;
  readonly hoverRows?: number;
  /** Bins of both histograms (50). */
  readonly bins?: number;
  readonly seed?: number;
}

export interface SaeVisHistogram {
  readonly barHeights: number[];
  /** Bin centres rounded to 5 decimals (sae_vis). */
  readonly barValues: number[];
}

export interface SaeVisSequence {
  /** Row of the bold token and its position. */
  readonly row: number;
  readonly position: number;
  readonly tokenIds: number[];
  /** Activations rounded to 4 decimals (sae_vis). */
  readonly featActs: number[];
  readonly lossContribution: number[];
  readonly topTokenIds: number[][];
  readonly topLogits: number[][];
  readonly bottomTokenIds: number[][];
  readonly bottomLogits: number[][];
}

export interface SaeVisGroup {
  /** sae_vis's title: "TOP ACTIVATIONS<br>MAX = 1.234" or "INTERVAL 0.000 - 0.500<br>CONTAINS 12.345%". */
  readonly title: string;
  readonly sequences: SaeVisSequence[];
}

export interface SaeVisFeature {
  readonly feature: number;
  readonly logitsTable: { topIds: number[]; topValues: number[]; bottomIds: number[]; bottomValues: number[] };
  readonly logitsHistogram: SaeVisHistogram;
  /** Empty (and no title) when the feature never fired. */
  readonly actsHistogram: SaeVisHistogram & { readonly title: string | null };
  readonly tables: {
    neuronAlignmentIndices: number[];
    neuronAlignmentValues: number[];
    neuronAlignmentL1: number[];
    correlatedNeuronsIndices: number[];
    correlatedNeuronsPearson: number[];
    correlatedNeuronsCossim: number[];
    correlatedFeaturesIndices: number[];
    correlatedFeaturesPearson: number[];
    correlatedFeaturesCossim: number[];
  };
  readonly groups: SaeVisGroup[];
}

const f32 = Math.fround;

/** torch.linspace(start, end, steps) in float32 (its two-sided formula). */
export function linspace32(start: number, end: number, steps: number): number[] {
  if (steps === 1) return [f32(start)];
  const step = f32(f32(f32(end) - f32(start)) / (steps - 1));
  const half = Math.floor(steps / 2);
  return Array.from({ length: steps }, (_, i) => (i < half ? f32(f32(start) + f32(step * i)) : f32(f32(end) - f32(step * (steps - i - 1)))));
}

/** sae_vis's HistogramData.from_data: torch.histc over [min, max] in float32, bin centres rounded to 5 decimals. */
export function saeVisHistogram(data: ArrayLike<number>, nBins: number): SaeVisHistogram {
  if (data.length === 0) return { barHeights: [], barValues: [] };
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const heights = new Array<number>(nBins).fill(0);
  if (hi === lo) {
    // torch.histc widens a zero range by 1 on each side
    const a = f32(lo - 1), b = f32(hi + 1);
    for (let i = 0; i < data.length; i++) heights[Math.min(nBins - 1, Math.floor(f32(f32(f32(data[i]! - a) * nBins) / f32(b - a))))]!++;
  } else {
    const span = f32(hi - lo);
    for (let i = 0; i < data.length; i++) {
      const pos = Math.floor(f32(f32(f32(data[i]! - lo) * nBins) / span));
      heights[Math.min(nBins - 1, pos)]!++;
    }
  }
  const binSize = (hi - lo) / nBins;
  const edges = linspace32(lo, hi, nBins + 1);
  const barValues = edges.slice(0, -1).map((e) => Number(f32(e + f32(binSize / 2)).toFixed(5)));
  return { barHeights: heights, barValues };
}

/**
 * Indices of the k largest (or smallest) values, largest first (smallest first), ties by index;
 * one scan with a small sorted buffer: k is a handful, the input up to a vocabulary.
 */
function topk(values: ArrayLike<number>, k: number, largest: boolean): number[] {
  const kk = Math.min(k, values.length);
  const idx: number[] = [];
  const val: number[] = [];
  const before = (a: number, b: number) => (largest ? a > b : a < b);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (idx.length === kk && !before(v, val[kk - 1]!)) continue;
    let at = idx.length === kk ? kk - 1 : idx.length;
    while (at > 0 && before(v, val[at - 1]!)) at--;
    idx.splice(at, 0, i);
    val.splice(at, 0, v);
    if (idx.length > kk) {
      idx.pop();
      val.pop();
    }
  }
  return idx;
}

/** Pearson and cosine similarity of each x row with each y row, with sae_vis's 1e-6 in the denominators. */
function corrcoef(x: Float64Array[], y: Float64Array[], n: number): { pearson: number[][]; cossim: number[][] } {
  const stats = (v: Float64Array) => {
    let s = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      s += v[i]!;
      s2 += v[i]! * v[i]!;
    }
    return { s, s2 };
  };
  const xs = x.map(stats), ys = y.map(stats);
  const pearson: number[][] = [], cossim: number[][] = [];
  x.forEach((xv, a) => {
    const pr: number[] = [], cr: number[] = [];
    y.forEach((yv, b) => {
      let xy = 0;
      for (let i = 0; i < n; i++) xy += xv[i]! * yv[i]!;
      cr.push(xy / (Math.sqrt(xs[a]!.s2 * ys[b]!.s2) + 1e-6));
      const num = n * xy - xs[a]!.s * ys[b]!.s;
      const den = Math.sqrt((n * xs[a]!.s2 - xs[a]!.s ** 2) * (n * ys[b]!.s2 - ys[b]!.s ** 2)) + 1e-6;
      pr.push(num / den);
    });
    pearson.push(pr);
    cossim.push(cr);
  });
  return { pearson, cossim };
}

/** The sae_vis feature data of every chosen feature (see the file comment). */
export function saeVisFeatureData(inp: SaeVisInputs, opts: SaeVisOptions = {}): SaeVisFeature[] {
  const nQ = opts.nQuantiles ?? 5;
  const topN = opts.topActsGroupSize ?? 20;
  const qN = opts.quantileGroupSize ?? 5;
  const logitsRows = opts.logitsRows ?? 10;
  const tableRows = opts.tableRows ?? 3;
  const hoverRows = opts.hoverRows ?? 5;
  const bins = opts.bins ?? 50;
  const rand = seededRandom(opts.seed ?? 0);
  const { nSeq, seqLen: L, features } = inp;
  const F = features.length;
  const T = nSeq * L;
  const dIn = inp.featureOutDir.length / Math.max(1, F);
  const dModel = inp.featureResidDir.length / Math.max(1, F);
  const V = inp.wU.shape[1];
  if (inp.tokens.length !== T) throw new ShapeError(`saeVisFeatureData: ${inp.tokens.length} tokens, expected nSeq·seqLen = ${T}`);
  if (inp.featureActs.length !== T * F) throw new ShapeError(`saeVisFeatureData: featureActs has ${inp.featureActs.length} values, expected ${T}·${F}`);
  if (inp.modelActs.length !== T * dIn) throw new ShapeError(`saeVisFeatureData: modelActs has ${inp.modelActs.length} values, expected ${T}·d_in ${dIn}`);
  if (inp.residPost.length !== T * dModel || inp.wU.shape[0] !== dModel) throw new ShapeError(`saeVisFeatureData: residPost [${T}·${dModel}] and W_U [${inp.wU.shape}] do not match`);
  if (T < topN) throw new ConfigError(`saeVisFeatureData: ${T} tokens are fewer than the top-activations group (${topN})`);

  // feature-major copies (float64 for the correlation sums)
  const acts = Array.from({ length: F }, (_, i) => Float64Array.from({ length: T }, (_, t) => inp.featureActs[t * F + i]!));
  const neurons = Array.from({ length: dIn }, (_, j) => Float64Array.from({ length: T }, (_, t) => inp.modelActs[t * dIn + j]!));
  const corrN = corrcoef(acts, neurons, T);
  const corrF = corrcoef(acts, acts, T);
  for (let i = 0; i < F; i++) corrF.pearson[i]![i] = corrF.cossim[i]![i] = 0;

  // logits of every feature over the vocabulary
  const logits = tf.tidy(() => tf.matMul(tf.tensor2d(inp.featureResidDir, [F, dModel]), inp.wU));
  const logitRows = logits.dataSync() as Float32Array;
  logits.dispose();

  return features.map((feature, i): SaeVisFeature => {
    const a = inp.featureActs;
    const col = Float32Array.from({ length: T }, (_, t) => a[t * F + i]!);
    const lrow = logitRows.subarray(i * V, (i + 1) * V);
    const top = topk(lrow, logitsRows, true), bottom = topk(lrow, logitsRows, false);
    const nonzero = col.filter((v) => v > 0);
    const frac = nonzero.length / T;
    const out = Array.from(inp.featureOutDir.subarray(i * dIn, (i + 1) * dIn));
    const l1 = out.reduce((s, v) => s + Math.abs(v), 0);
    const align = topk(out, tableRows, true);
    const cn = topk(corrN.pearson[i]!, tableRows, true);
    const cf = topk(corrF.pearson[i]!, tableRows, true);

    // sequence groups
    let max = -Infinity;
    for (const v of col) if (v > max) max = v;
    const groups: { title: string; bold: number[] }[] = [];
    groups.push({ title: `TOP ACTIVATIONS<br>MAX = ${max.toFixed(3)}`, bold: topk(col, topN, true) });
    if (nQ > 0) {
      const q = linspace32(0, max, nQ + 1);
      for (let k = nQ - 1; k >= 0; k--) {
        const lower = q[k]!, upper = q[k + 1]!;
        const inRange: number[] = [];
        for (let t = 0; t < T; t++) if (col[t]! >= lower && col[t]! <= upper) inRange.push(t);
        const pct = f32(inRange.length / T);
        let chosen = inRange;
        if (inRange.length > qN) {
          const pool = inRange.slice();
          chosen = [];
          for (let j = 0; j < qN; j++) chosen.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
        }
        groups.push({ title: `INTERVAL ${lower.toFixed(3)} - ${upper.toFixed(3)}<br>CONTAINS ${(pct * 100).toFixed(3)}%`, bold: chosen });
      }
    }
    const allBold = groups.flatMap((g) => g.bold);
    const seqs = sequenceData(inp, i, allBold, hoverRows, dModel, V);
    let at = 0;
    return {
      feature,
      logitsTable: { topIds: top, topValues: top.map((j) => lrow[j]!), bottomIds: bottom, bottomValues: bottom.map((j) => lrow[j]!) },
      logitsHistogram: saeVisHistogram(lrow, bins),
      actsHistogram: { ...saeVisHistogram(nonzero, bins), title: nonzero.length ? `ACTIVATIONS<br>DENSITY = ${(f32(frac) * 100).toFixed(3)}%` : null },
      tables: {
        neuronAlignmentIndices: align,
        neuronAlignmentValues: align.map((j) => out[j]!),
        neuronAlignmentL1: align.map((j) => Math.abs(out[j]!) / l1),
        correlatedNeuronsIndices: cn,
        correlatedNeuronsPearson: cn.map((j) => corrN.pearson[i]![j]!),
        correlatedNeuronsCossim: cn.map((j) => corrN.cossim[i]![j]!),
        correlatedFeaturesIndices: cf.map((j) => features[j]!),
        correlatedFeaturesPearson: cf.map((j) => corrF.pearson[i]![j]!),
        correlatedFeaturesCossim: cf.map((j) => corrF.cossim[i]![j]!),
      },
      groups: groups.map((g) => ({ title: g.title, sequences: g.bold.map(() => seqs[at++]!) })),
    };
  });
}

/**
 * Per bold token: its row without the first token, and per token the effect of removing the
 * feature's output on the previous token from the final residual stream (sae_vis
 * get_sequences_data with buffer=None, compute_buffer=True).
 */
function sequenceData(inp: SaeVisInputs, i: number, bold: readonly number[], k: number, dModel: number, V: number): SaeVisSequence[] {
  const L = inp.seqLen;
  // with buffer=None a sequence is its whole row: compute each row once
  const uniq = [...new Set(bold.map((t) => Math.floor(t / L)))];
  const byRow = new Map(rowData(inp, i, uniq, k, dModel, V).map((d, j) => [uniq[j]!, d]));
  return bold.map((t) => ({ ...byRow.get(Math.floor(t / L))!, position: t % L }));
}

function rowData(inp: SaeVisInputs, i: number, rows: readonly number[], k: number, dModel: number, V: number): SaeVisSequence[] {
  const { seqLen: L, features } = inp;
  const F = features.length;
  const n = rows.length;
  if (n === 0) return [];
  const W = L - 1;
  // activations before ablation (positions 0..L-2) and the residual there
  const pre = new Float32Array(n * W);
  const resid = new Float32Array(n * W * dModel);
  rows.forEach((r, b) => {
    for (let p = 0; p < W; p++) pre[b * W + p] = inp.featureActs[(r * L + p) * F + i]!;
    resid.set(inp.residPost.subarray(r * L * dModel, (r * L + W) * dModel), b * W * dModel);
  });
  const dir = inp.featureResidDir.subarray(i * dModel, (i + 1) * dModel);
  const correct = new Int32Array(n * W);
  rows.forEach((r, b) => correct.set(inp.tokens.subarray(r * L + 1, r * L + L), b * W));
  const [contrib, loss] = tf.tidy(() => {
    const x = tf.tensor2d(resid, [n * W, dModel]);
    const eff = tf.mul(tf.reshape(tf.tensor1d(pre), [n * W, 1]), tf.reshape(tf.tensor1d(dir), [1, dModel]));
    const xNew = tf.sub(x, eff);
    // torch's std is unbiased (divides by d - 1)
    const norm = (v: tf.Tensor2D) => tf.div(v, tf.sqrt(tf.mul(tf.moments(v, -1, true).variance, dModel / (dModel - 1))));
    const orig = tf.logSoftmax(tf.matMul(norm(x), inp.wU));
    const neu = tf.logSoftmax(tf.matMul(norm(xNew as tf.Tensor2D), inp.wU));
    const c = tf.sub(orig, neu) as tf.Tensor2D;
    const l = tf.neg(tf.gather(tf.reshape(c, [-1]), tf.tensor1d(Int32Array.from(correct, (tok, j) => j * V + tok), 'int32')));
    return [c, l] as const;
  });
  const cv = contrib.dataSync() as Float32Array;
  const lv = loss.dataSync() as Float32Array;
  tf.dispose([contrib, loss]);
  // sae_vis's TopK: only where the previous token's activation is non-zero (zeros elsewhere),
  // unless no token of any bold sequence has one
  let anyMask = false;
  for (let j = 0; j < n * W; j++) if (Math.abs(pre[j]!) > 1e-5) anyMask = true;
  return rows.map((r, b) => {
    const tops: number[][] = [], topV: number[][] = [], bots: number[][] = [], botV: number[][] = [];
    for (let p = 0; p < W; p++) {
      const j = b * W + p;
      const row = cv.subarray(j * V, (j + 1) * V);
      if (anyMask && !(Math.abs(pre[j]!) > 1e-5)) {
        tops.push(new Array(k).fill(0));
        topV.push(new Array(k).fill(0));
        bots.push(new Array(k).fill(0));
        botV.push(new Array(k).fill(0));
        continue;
      }
      const ti = topk(row, k, true), bi = topk(row, k, false);
      tops.push(ti);
      topV.push(ti.map((x) => row[x]!));
      bots.push(bi);
      botV.push(bi.map((x) => row[x]!));
    }
    return {
      row: r,
      position: 0,
      tokenIds: Array.from(inp.tokens.subarray(r * L + 1, r * L + L)),
      featActs: Array.from({ length: W }, (_, p) => Number(inp.featureActs[(r * L + p + 1) * F + i]!.toFixed(4))),
      lossContribution: Array.from(lv.subarray(b * W, (b + 1) * W)),
      topTokenIds: tops,
      topLogits: topV,
      bottomTokenIds: bots,
      bottomLogits: botV,
    };
  });
}
