/**
 * Feature dashboards (what SAELens v1.5's dashboard runner builds with sae_vis), computed in one
 * pass over a token stream for every chosen feature at once, in bounded memory:
 * - activation density (fraction of tokens where the feature fires) and a histogram of its
 *   non-zero activations;
 * - logit effects: the tokens whose logits the decoder row `W_dec[f] · W_U` raises and lowers
 *   most, and the histogram of that row over the vocabulary;
 * - the top activating tokens with their context and the feature's activation on each token;
 * - examples drawn uniformly from equal intervals of [0, max activation] (sae_vis's quantile groups);
 * - the nearest features by cosine similarity of decoder rows.
 * Memory per feature: the top-k examples, a few samples per activation cell and a fine histogram
 * (activationDistribution.ts) — never the activations themselves.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Observable, count, lastValueFrom, tap } from 'rxjs';
import { ConfigError, ShapeError } from '../../errors.js';
import type { HookedTransformer } from '../../model/HookedTransformer.js';
import type { TokenBatch } from '../../stream/TokenBatch.js';
import type { Sae } from '../../sae/Sae.js';
import type { Histogram } from '../../stream/TrainEvent.js';
import { isHeadHook } from '../evals.js';
import { logitWeights } from '../neuronpedia.js';
import { type ActivationExample, TopActivationsAccumulator } from '../topActivations.js';
import { seededRandom } from '../../stream/rng.js';
import { ActivationDistribution } from './activationDistribution.js';

export interface FeatureDashboardOptions {
  /** SAE features to build dashboards for. */
  readonly features: readonly number[];
  /** Top activating examples per feature (sae_vis top_acts_group_size; default 20). */
  readonly topK?: number;
  /** Equal intervals of [0, max] to draw examples from (sae_vis n_quantiles; default 10). */
  readonly quantiles?: number;
  /** Examples per interval (sae_vis quantile_group_size; default 5). */
  readonly perQuantile?: number;
  /** Tokens shown before and after each example's token (SAELens's dashboard runner: 8 and 8). */
  readonly contextBefore?: number;
  readonly contextAfter?: number;
  /** Bins of the two histograms (sae_vis: 50). */
  readonly histogramBins?: number;
  /** Rows of the positive and negative logit tables (sae_vis: 10). */
  readonly logitRows?: number;
  /** Nearest features by decoder cosine similarity (default 5). */
  readonly neighbours?: number;
  /** Seed of the interval sampling (sae_vis: 0). */
  readonly seed?: number;
}

export interface TokenValue {
  readonly token: number;
  readonly value: number;
}

export interface DashboardExample {
  /** Sequence index in the stream, and the token's position in it. */
  readonly sequence: number;
  readonly position: number;
  readonly value: number;
  /** Position of `tokens[0]` in the sequence. */
  readonly contextStart: number;
  readonly tokens: readonly number[];
  /** The feature's activation at each token of `tokens`. */
  readonly values: readonly number[];
}

export interface DashboardInterval {
  readonly lo: number;
  readonly hi: number;
  /** Fraction of all tokens whose activation lies in the interval (non-zero ones only). */
  readonly fraction: number;
  readonly examples: readonly DashboardExample[];
}

export interface FeatureDashboard {
  readonly feature: number;
  /** Tokens seen, tokens where the feature fired, their ratio. */
  readonly nTokens: number;
  readonly nonZero: number;
  readonly density: number;
  readonly maxActivation: number;
  /** Histogram of the non-zero activations. */
  readonly activationHistogram: Histogram;
  /** Direct logit effect `W_dec[f] · W_U`: most raised and most lowered tokens, and its histogram over the vocabulary. */
  readonly logits: { readonly top: readonly TokenValue[]; readonly bottom: readonly TokenValue[]; readonly histogram: Histogram };
  readonly topExamples: readonly DashboardExample[];
  /** Highest interval first. */
  readonly intervals: readonly DashboardInterval[];
  /** Other features with the most similar decoder rows (cosine), most similar first. */
  readonly neighbours: readonly { readonly feature: number; readonly cosine: number }[];
}

export interface DashboardData {
  readonly meta: {
    readonly model: string;
    readonly hookPoint: string;
    readonly dSae: number;
    readonly saeId?: string;
    readonly dataset?: string;
    readonly nTokens: number;
    readonly nSequences: number;
    readonly contextSize: number;
  };
  readonly features: readonly FeatureDashboard[];
  /** Text of every token id that appears in the dashboards (examples and logit tables). */
  readonly vocab: Readonly<Record<number, string>>;
}

const toExample = (e: ActivationExample): DashboardExample => ({
  sequence: e.batch,
  position: e.position,
  value: e.value,
  contextStart: e.contextStart,
  tokens: e.tokens,
  values: e.values,
});

/**
 * Accumulates the dashboard statistics of a set of features from batches of their activations
 * `[batch, seq, features]` (columns in the order of `features`) and the batch's token ids.
 * Tensors passed to `add` stay the caller's.
 */
export class FeatureDashboardBuilder {
  private readonly top: TopActivationsAccumulator;
  private readonly dists: ActivationDistribution[];
  private nTokens = 0;
  private nSeq = 0;
  private contextSize = 0;
  readonly features: readonly number[];
  private readonly o: Required<Omit<FeatureDashboardOptions, 'features'>>;

  constructor(readonly dSae: number, opts: FeatureDashboardOptions) {
    this.features = checkFeatures(opts.features, dSae);
    this.o = {
      topK: opts.topK ?? 20,
      quantiles: opts.quantiles ?? 10,
      perQuantile: opts.perQuantile ?? 5,
      contextBefore: opts.contextBefore ?? 8,
      contextAfter: opts.contextAfter ?? 8,
      histogramBins: opts.histogramBins ?? 50,
      logitRows: opts.logitRows ?? 10,
      neighbours: opts.neighbours ?? 5,
      seed: opts.seed ?? 0,
    };
    for (const k of ['topK', 'quantiles', 'perQuantile', 'histogramBins', 'logitRows'] as const) {
      if (!(Number.isInteger(this.o[k]) && this.o[k] > 0)) throw new ConfigError(`featureDashboards: ${k} must be a positive integer, got ${this.o[k]}`);
    }
    for (const k of ['contextBefore', 'contextAfter', 'neighbours'] as const) {
      if (!(Number.isInteger(this.o[k]) && this.o[k] >= 0)) throw new ConfigError(`featureDashboards: ${k} must be a non-negative integer, got ${this.o[k]}`);
    }
    const F = this.features.length;
    this.top = new TopActivationsAccumulator(F, this.o.topK, { contextBefore: this.o.contextBefore, contextAfter: this.o.contextAfter });
    const rand = seededRandom(this.o.seed);
    this.dists = Array.from({ length: F }, () => new ActivationDistribution(this.o.perQuantile, rand));
  }

  add(featureActs: tf.Tensor, tokens: Int32Array): this {
    const F = this.features.length;
    const [B, P, f] = featureActs.shape as [number, number, number];
    if (featureActs.rank !== 3 || f !== F) throw new ShapeError(`featureDashboards: feature activations must be [batch, seq, ${F}], got [${featureActs.shape.join(', ')}]`);
    if (tokens.length !== B * P) throw new ShapeError(`featureDashboards: ${tokens.length} tokens for activations of [${B}, ${P}, ·]`);
    this.top.add(featureActs, tokens);
    const acts = featureActs.dataSync() as Float32Array;
    const before = this.o.contextBefore, after = this.o.contextAfter;
    for (let b = 0; b < B; b++) {
      for (let p = 0; p < P; p++) {
        const row = (b * P + p) * F;
        for (let i = 0; i < F; i++) {
          const v = acts[row + i]!;
          if (!(v > 0)) continue;
          this.dists[i]!.add(v, () => {
            const lo = Math.max(0, p - before), hi = Math.min(P, p + after + 1);
            return {
              batch: this.nSeq + b,
              position: p,
              value: v,
              contextStart: lo,
              tokens: Array.from(tokens.subarray(b * P + lo, b * P + hi)),
              values: Array.from({ length: hi - lo }, (_, j) => acts[(b * P + lo + j) * F + i]!),
            };
          });
        }
      }
    }
    this.nSeq += B;
    this.nTokens += B * P;
    this.contextSize = P;
    return this;
  }

  get tokensSeen(): number {
    return this.nTokens;
  }

  /**
   * The dashboards. `wDec` `[dSae, dIn]` (the SAE's decoder) and `wU` `[dIn, vocab]` (the model's
   * unembedding) give the logit effects and neighbours; `decode` the text of token ids.
   * Neither tensor is disposed.
   */
  result(args: { wDec: tf.Tensor2D; wU: tf.Tensor2D; decode: (ids: readonly number[]) => string[]; model: string; hookPoint: string; saeId?: string; dataset?: string }): DashboardData {
    if (this.nTokens === 0) throw new ConfigError('featureDashboards: no tokens were seen (the dataset gave no complete sequence)');
    const o = this.o;
    const logits = logitWeights(args.wDec, args.wU, this.features, o.logitRows, o.histogramBins);
    const neighbours = nearestByDecoder(args.wDec, this.features, o.neighbours);
    const tops = this.top.result();
    const features = this.features.map((feature, i): FeatureDashboard => {
      const d = this.dists[i]!;
      const lg = logits[i]!;
      return {
        feature,
        nTokens: this.nTokens,
        nonZero: d.count,
        density: d.count / this.nTokens,
        maxActivation: d.max,
        activationHistogram: d.histogram(o.histogramBins),
        logits: {
          top: lg.topIds.map((token, j) => ({ token, value: lg.topValues[j]! })),
          bottom: lg.bottomIds.map((token, j) => ({ token, value: lg.bottomValues[j]! })),
          histogram: lg.histogram,
        },
        topExamples: tops[i]!.examples.map(toExample),
        intervals: d.intervals(o.quantiles, o.perQuantile).map((iv) => ({ lo: iv.lo, hi: iv.hi, fraction: iv.count / this.nTokens, examples: iv.examples.map(toExample) })),
        neighbours: neighbours[i]!,
      };
    });
    const ids = new Set<number>();
    for (const f of features) {
      for (const t of [...f.logits.top, ...f.logits.bottom]) ids.add(t.token);
      for (const ex of [...f.topExamples, ...f.intervals.flatMap((iv) => iv.examples)]) for (const t of ex.tokens) ids.add(t);
    }
    const list = [...ids].sort((a, b) => a - b);
    const text = args.decode(list);
    const vocab: Record<number, string> = {};
    list.forEach((id, j) => (vocab[id] = text[j] ?? ''));
    return {
      meta: {
        model: args.model,
        hookPoint: args.hookPoint,
        dSae: this.dSae,
        ...(args.saeId !== undefined ? { saeId: args.saeId } : {}),
        ...(args.dataset !== undefined ? { dataset: args.dataset } : {}),
        nTokens: this.nTokens,
        nSequences: this.nSeq,
        contextSize: this.contextSize,
      },
      features,
      vocab,
    };
  }
}

function checkFeatures(features: readonly number[], dSae: number): number[] {
  if (features.length === 0) throw new ConfigError('featureDashboards: no features chosen');
  const seen = new Set<number>();
  for (const f of features) {
    if (!(Number.isInteger(f) && f >= 0 && f < dSae)) throw new ConfigError(`featureDashboards: feature ${f} is not in [0, d_sae=${dSae})`);
    if (seen.has(f)) throw new ConfigError(`featureDashboards: feature ${f} is chosen twice`);
    seen.add(f);
  }
  return [...features];
}

/** For each chosen feature, the k other features whose decoder rows have the highest cosine similarity. */
export function nearestByDecoder(wDec: tf.Tensor2D, features: readonly number[], k: number): { feature: number; cosine: number }[][] {
  const dSae = wDec.shape[0];
  const kk = Math.min(k + 1, dSae);
  if (k === 0) return features.map(() => []);
  const [vals, idx] = tf.tidy(() => {
    const unit = tf.div(wDec, tf.maximum(tf.norm(wDec, 'euclidean', 1, true), 1e-12));
    const rows = tf.gather(unit, tf.tensor1d([...features], 'int32'));
    const cos = tf.matMul(rows, unit, false, true);
    const t = tf.topk(cos, kk);
    return [t.values, t.indices] as const;
  });
  const v = vals.dataSync(), ix = idx.dataSync();
  tf.dispose([vals, idx]);
  return features.map((f, r) => {
    const out: { feature: number; cosine: number }[] = [];
    for (let j = 0; j < kk && out.length < k; j++) {
      const g = ix[r * kk + j]!;
      if (g !== f) out.push({ feature: g, cosine: v[r * kk + j]! });
    }
    return out;
  });
}

/** The SAE's input rows `[batch·seq, d_in]` from the hook's activation (one head of a q/k/v/z hook when headIndex is set). */
function hookRows(act: tf.Tensor, hookPoint: string, headIndex: number | null | undefined, dIn: number): tf.Tensor2D {
  let rows: tf.Tensor2D;
  if (isHeadHook(hookPoint)) {
    const [B, P, H, dh] = act.shape as [number, number, number, number];
    if (headIndex !== null && headIndex !== undefined) {
      if (!(headIndex >= 0 && headIndex < H)) throw new ConfigError(`featureDashboards: hook_point_head_index ${headIndex} is not a head of '${hookPoint}' (${H} heads)`);
      rows = tf.reshape(tf.slice(act, [0, 0, headIndex, 0], [B, P, 1, dh]), [B * P, dh]);
    } else rows = tf.reshape(act, [B * P, H * dh]);
  } else rows = tf.reshape(act, [-1, act.shape[act.rank - 1]!]);
  if (rows.shape[1] !== dIn) throw new ShapeError(`featureDashboards: hook '${hookPoint}' gives rows of width ${rows.shape[1]}, the SAE has d_in ${dIn}`);
  return rows;
}

/** Activations `[B, P, features]` of the chosen features on a batch of tokens (a new tensor). */
export function chosenFeatureActs(model: HookedTransformer, sae: Sae, tokens: tf.Tensor2D, features: readonly number[], hookPoint = sae.cfg.hookPoint): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, P] = tokens.shape;
    const act = model.run(tokens, { names: [hookPoint], returnType: 'none' }).cache.get(hookPoint);
    if (!act) throw new ConfigError(`featureDashboards: the model produced no activation at '${hookPoint}'`);
    const rows = hookRows(act, hookPoint, sae.cfg.hookPointHeadIndex, sae.cfg.dIn);
    const f = sae.encode(rows);
    return tf.reshape(tf.gather(f, tf.tensor1d([...features], 'int32'), 1), [B, P, features.length]) as tf.Tensor3D;
  });
}

export interface FeatureDashboardRun extends FeatureDashboardOptions {
  /** Token batches to stream through the model (each `n` sequences of `contextSize`). */
  readonly batches: Iterable<TokenBatch> | Observable<TokenBatch>;
  /** The text of token ids (e.g. the tokenizer's `decodeEach`). */
  readonly decode: (ids: readonly number[]) => string[];
  readonly saeId?: string;
  readonly dataset?: string;
  /** Called after each batch with the sequences and tokens done so far. */
  readonly onProgress?: (p: { batches: number; sequences: number; tokens: number }) => void;
}

/**
 * Dashboards of `features` of `sae` on `model`: every batch goes through the model once (to the
 * SAE's hook only) and updates every feature's statistics; no tensor outlives its batch.
 * Resolves when the batches end; rejects with a message naming the failing stage.
 */
export async function featureDashboards(model: HookedTransformer, sae: Sae, run: FeatureDashboardRun): Promise<DashboardData> {
  const builder = new FeatureDashboardBuilder(sae.cfg.dSae, run);
  let batches = 0;
  const step = (tb: TokenBatch) => {
    if (!(tb.tokens instanceof Int32Array) || tb.tokens.length !== tb.n * tb.contextSize) {
      throw new ShapeError(`featureDashboards: token batch ${batches} has ${tb.tokens?.length} tokens, expected n·contextSize = ${tb.n}·${tb.contextSize}`);
    }
    const tok = tf.tensor2d(tb.tokens, [tb.n, tb.contextSize], 'int32');
    let acts: tf.Tensor3D | undefined;
    try {
      acts = chosenFeatureActs(model, sae, tok, builder.features);
      builder.add(acts, tb.tokens);
    } finally {
      tf.dispose([tok, ...(acts ? [acts] : [])]);
    }
    batches++;
    run.onProgress?.({ batches, sequences: builder.tokensSeen / tb.contextSize, tokens: builder.tokensSeen });
  };
  if (Symbol.iterator in run.batches) {
    for (const tb of run.batches as Iterable<TokenBatch>) step(tb);
  } else {
    // the work is synchronous in `tap`: the source cannot run ahead of the model by more than
    // one batch, and an error in it unsubscribes the source
    await lastValueFrom((run.batches as Observable<TokenBatch>).pipe(tap(step), count()));
  }
  const wU = model.unembedWeights();
  try {
    return builder.result({
      wDec: sae.W_dec as unknown as tf.Tensor2D,
      wU,
      decode: run.decode,
      model: model.cfg.modelName,
      hookPoint: sae.cfg.hookPoint,
      ...(run.saeId !== undefined ? { saeId: run.saeId } : {}),
      ...(run.dataset !== undefined ? { dataset: run.dataset } : {}),
    });
  } finally {
    wU.dispose();
  }
}
