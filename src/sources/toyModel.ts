import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { Rng } from '../stream/rng.js';
import { platform } from '../platform/index.js';
import { type HostReading, readAsync, readSync } from '../backend/hostReads.js';

/**
 * Anthropic's toy models of superposition, as SAELens v1.5's toy-model runner uses them
 * (`training/toy_models.py`, one instance): `n_features` sparse features in [0, 1) are
 * squeezed into `n_hidden` dims by `h = W x` and read back by `ReLU(Wᵀ h + b)`, trained with
 * importance-weighted MSE. An SAE trained on `h` should find the columns of `W`.
 */
export interface ToyModelConfig {
  readonly nFeatures: number;
  readonly nHidden: number;
  /** Pairs (2k, 2k+1) that are present together; they come first. */
  readonly nCorrelatedPairs: number;
  /** Pairs of which at most one is present; they come after the correlated pairs. */
  readonly nAnticorrelatedPairs: number;
  /** Probability that a feature is present (SAELens toy runner: 0.025). */
  readonly featureProbability: number;
  /** Importance of feature i is `importanceDecay^i` (1: all equal, SAELens's runner). */
  readonly importanceDecay: number;
  readonly seed: number;
}

/** SAELens v1.5 `SAEToyModelRunnerConfig` defaults. */
export const DEFAULT_TOY_MODEL_CONFIG: ToyModelConfig = {
  nFeatures: 5,
  nHidden: 2,
  nCorrelatedPairs: 0,
  nAnticorrelatedPairs: 0,
  featureProbability: 0.025,
  importanceDecay: 1,
  seed: 42,
};

/** A toy model as plain data: `W` is `[nHidden, nFeatures]` row-major, `bFinal` `[nFeatures]`. */
export interface ToyModel {
  readonly cfg: ToyModelConfig;
  readonly W: Float32Array;
  readonly bFinal: Float32Array;
  readonly importance: Float32Array;
  /** Final training loss (importance-weighted MSE), when trained. */
  readonly loss?: number;
}

function normal(rng: Rng): number {
  // Box–Muller; 1 − u keeps the log finite.
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A fresh toy model: `W` xavier-normal as torch initialises a `[1, n_hidden, n_features]` parameter, `b = 0`. */
export function toyModel(config: Partial<ToyModelConfig> = {}): ToyModel {
  const cfg = { ...DEFAULT_TOY_MODEL_CONFIG, ...config };
  const { nFeatures, nHidden, nCorrelatedPairs: nc, nAnticorrelatedPairs: na, featureProbability: p } = cfg;
  if (!Number.isInteger(nFeatures) || nFeatures < 1) throw new ConfigError(`toyModel(): nFeatures must be a positive integer, got ${nFeatures}`);
  if (!Number.isInteger(nHidden) || nHidden < 1) throw new ConfigError(`toyModel(): nHidden must be a positive integer, got ${nHidden}`);
  if (!Number.isInteger(nc) || !Number.isInteger(na) || nc < 0 || na < 0 || 2 * (nc + na) > nFeatures)
    throw new ConfigError(`toyModel(): 2·(nCorrelatedPairs ${nc} + nAnticorrelatedPairs ${na}) must not exceed nFeatures ${nFeatures}`);
  if (!(p > 0 && p <= 1 && (na === 0 || 2 * p <= 1)))
    throw new ConfigError(`toyModel(): featureProbability must be in (0, 1] (≤ 0.5 with anticorrelated pairs), got ${p}`);
  if (!(cfg.importanceDecay > 0)) throw new ConfigError(`toyModel(): importanceDecay must be > 0, got ${cfg.importanceDecay}`);
  const rng = new Rng(cfg.seed);
  // torch fans of a [n_instances=1, n_hidden, n_features] tensor: in = n_hidden·n_features, out = 1·n_features.
  const std = Math.sqrt(2 / (nHidden * nFeatures + nFeatures));
  const W = new Float32Array(nHidden * nFeatures);
  for (let i = 0; i < W.length; i++) W[i] = std * normal(rng);
  const importance = new Float32Array(nFeatures);
  for (let i = 0; i < nFeatures; i++) importance[i] = Math.pow(cfg.importanceDecay, i);
  return { cfg, W, bFinal: new Float32Array(nFeatures), importance };
}

/**
 * A batch of feature vectors `[batchSize, nFeatures]` row-major, as SAELens's
 * `generate_batch`: correlated pairs (present together with probability p), then
 * anticorrelated pairs (one of the two present with probability 2p), then independent
 * features (probability p); present features are uniform in [0, 1).
 */
export function toyFeatures(cfg: ToyModelConfig, batchSize: number, rng: Rng): Float32Array {
  const { nFeatures: F, nCorrelatedPairs: nc, nAnticorrelatedPairs: na, featureProbability: p } = cfg;
  const x = new Float32Array(batchSize * F);
  for (let b = 0; b < batchSize; b++) {
    const o = b * F;
    for (let k = 0; k < nc; k++) {
      if (rng.next() <= p) {
        x[o + 2 * k] = rng.next();
        x[o + 2 * k + 1] = rng.next();
      }
    }
    const oa = o + 2 * nc;
    for (let k = 0; k < na; k++) {
      if (rng.next() <= 2 * p) x[oa + 2 * k + (rng.next() <= 0.5 ? 0 : 1)] = rng.next();
    }
    for (let f = 2 * (nc + na); f < F; f++) if (rng.next() <= p) x[o + f] = rng.next();
  }
  return x;
}

/** `h = W x` for each row: `[batchSize, nHidden]` row-major. */
export function toyHidden(model: ToyModel, features: Float32Array): Float32Array {
  const { nFeatures: F, nHidden: H } = model.cfg;
  const n = features.length / F;
  const h = new Float32Array(n * H);
  const W = model.W;
  for (let b = 0; b < n; b++) {
    const xo = b * F;
    for (let f = 0; f < F; f++) {
      const xv = features[xo + f]!;
      if (xv === 0) continue; // sparse: most features are absent
      for (let j = 0; j < H; j++) h[b * H + j]! += W[j * F + f]! * xv;
    }
  }
  return h;
}

export interface TrainToyModelOptions {
  /** SAELens: 10 000 steps, batch 1024, lr 1e-3, constant schedule. */
  readonly steps?: number;
  readonly batchSize?: number;
  readonly lr?: number;
  /** LR multiplier per step (SAELens's `lr_scale`), default constant 1. */
  readonly lrScale?: (step: number, steps: number) => number;
  /** Called every `logEvery` steps with the loss. */
  readonly onLog?: (step: number, loss: number) => void;
  readonly logEvery?: number;
}

/**
 * Trains a toy model (SAELens `Model.optimize`): Adam on `mean(importance · (x − ReLU(WᵀWx + b))²)`.
 * Returns a new model; the input is left as it was. Leaves no tensors behind. Synchronous: in a
 * page use trainToyModelAsync, which keeps the page responsive.
 */
export function trainToyModel(model: ToyModel, opts: TrainToyModelOptions = {}): ToyModel {
  return readSync(toyModelTraining(model, opts));
}

export interface TrainToyModelAsyncOptions extends TrainToyModelOptions {
  /**
   * Hands the thread back (`yieldTo`, default the platform's event-loop yield) after every this
   * many steps (default 1), so a page keeps drawing and answering while the model trains.
   */
  readonly yieldEvery?: number;
  readonly yieldTo?: () => Promise<void>;
}

/**
 * trainToyModel, the same steps and result, with its read-backs asynchronous (`tensor.data()`,
 * which webgpu answers without stalling) and a yield to the event loop between steps.
 */
export async function trainToyModelAsync(model: ToyModel, opts: TrainToyModelAsyncOptions = {}): Promise<ToyModel> {
  const { yieldEvery = 1, yieldTo = () => platform.yieldToEventLoop() } = opts;
  if (!Number.isInteger(yieldEvery) || yieldEvery < 1) throw new ConfigError(`trainToyModelAsync(): yieldEvery must be a positive integer, got ${yieldEvery}`);
  // every read but the last (the weights) ends a step
  return readAsync(toyModelTraining(model, opts), async (reads) => {
    if (reads % yieldEvery === 0) await yieldTo();
  });
}

/**
 * The training, as a generator: after each step it yields the tensors it needs on the host (the
 * loss when one is logged, else none) and is resumed with their values; at the end it yields the
 * weights. trainToyModel and trainToyModelAsync drive it.
 */
function* toyModelTraining(model: ToyModel, opts: TrainToyModelOptions): HostReading<ToyModel> {
  const { steps = 10_000, batchSize = 1024, lr = 1e-3, lrScale = () => 1, logEvery = 1000 } = opts;
  if (!Number.isInteger(steps) || steps < 0) throw new ConfigError(`trainToyModel(): steps must be a non-negative integer, got ${steps}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`trainToyModel(): batchSize must be a positive integer, got ${batchSize}`);
  const { nFeatures: F, nHidden: H } = model.cfg;
  if (model.W.length !== F * H) throw new ShapeError(`trainToyModel(): W has ${model.W.length} entries, expected ${H}×${F}`);
  const rng = new Rng(model.cfg.seed + 1);
  // tf.variable shares the initial tensor's data: keep the variables, free the initial handles.
  const W = tf.tidy(() => tf.variable(tf.tensor2d(model.W, [H, F]), true));
  const b = tf.tidy(() => tf.variable(tf.tensor1d(model.bFinal), true));
  const importance = tf.tensor1d(model.importance);
  // Adam as torch's defaults (β 0.9/0.999, ε 1e-8); the LR is set per step.
  const opt = tf.train.adam(lr, 0.9, 0.999, 1e-8);
  let loss = NaN;
  try {
    for (let step = 0; step < steps; step++) {
      // learningRate is protected in the typings but read on every step by Adam's update.
      (opt as unknown as { learningRate: number }).learningRate = lr * lrScale(step, steps);
      const x = tf.tensor2d(toyFeatures(model.cfg, batchSize, rng), [batchSize, F]);
      const wantLoss = step === steps - 1 || (opts.onLog && step % logEvery === 0);
      let cost: tf.Scalar | null;
      try {
        cost = opt.minimize(() => {
          // hidden = x Wᵀ, out = ReLU(hidden W + b): plain matMuls with explicit transposes (wasm).
          const hidden = tf.matMul(x, tf.transpose(W));
          const out = tf.relu(tf.add(tf.matMul(hidden, W), b));
          return tf.mean(tf.mul(importance, tf.square(tf.sub(x, out)))) as tf.Scalar;
        }, !!wantLoss, [W, b]);
      } finally {
        x.dispose();
      }
      if (cost) {
        try {
          loss = (yield [cost])[0]![0]!;
        } finally {
          cost.dispose();
        }
        if (opts.onLog && step % logEvery === 0) opts.onLog(step, loss);
      } else yield [];
    }
    const [w, bias] = yield [W, b];
    return {
      cfg: model.cfg,
      W: w!.slice(),
      bFinal: bias!.slice(),
      importance: model.importance.slice(),
      loss,
    };
  } finally {
    opt.dispose();
    W.dispose();
    b.dispose();
    importance.dispose();
  }
}

export interface FeatureRecovery {
  /** For each true feature, the best cosine similarity with any decoder row. */
  readonly maxCosine: number[];
  readonly meanMaxCosine: number;
  /** How many true features have a decoder row with cosine > threshold. */
  readonly recovered: number;
  readonly threshold: number;
}

/**
 * How well an SAE's decoder rows (`wDec`, `[dSae, nHidden]` row-major) recover the toy
 * model's true feature directions (the columns `W[:, i]`): for each feature, the highest
 * cosine similarity with any decoder row.
 */
export function toyFeatureRecovery(model: ToyModel, wDec: Float32Array, threshold = 0.9): FeatureRecovery {
  const { nFeatures: F, nHidden: H } = model.cfg;
  if (wDec.length % H !== 0) throw new ShapeError(`toyFeatureRecovery(): W_dec has ${wDec.length} entries, not a multiple of nHidden ${H}`);
  const dSae = wDec.length / H;
  // decoder row norms, once (not once per feature)
  const rowNorm = new Float64Array(dSae);
  for (let r = 0; r < dSae; r++) {
    let nr = 0;
    for (let j = 0; j < H; j++) nr += wDec[r * H + j]! * wDec[r * H + j]!;
    rowNorm[r] = Math.sqrt(nr);
  }
  const maxCosine: number[] = [];
  for (let f = 0; f < F; f++) {
    let nf = 0;
    for (let j = 0; j < H; j++) nf += model.W[j * F + f]! ** 2;
    nf = Math.sqrt(nf);
    let best = -1;
    for (let r = 0; r < dSae; r++) {
      let dot = 0;
      for (let j = 0; j < H; j++) dot += wDec[r * H + j]! * model.W[j * F + f]!;
      const c = dot / (rowNorm[r]! * nf + 1e-12);
      if (c > best) best = c;
    }
    maxCosine.push(best);
  }
  return {
    maxCosine,
    meanMaxCosine: maxCosine.reduce((s, c) => s + c, 0) / F,
    recovered: maxCosine.filter((c) => c > threshold).length,
    threshold,
  };
}
