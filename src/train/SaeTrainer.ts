/**
 * One SAE's training loop state and step, SAELens v1.5.0's `_train_step` (DESIGN.md §5):
 *
 *   1. renormalize W_dec rows (normalize_sae_decoder)
 *   2. reset the feature-sampling window counters at the start of step i when
 *      (i + 1) % feature_sampling_window == 0
 *   3. dead mask = steps_since_fired > dead_feature_window (strict; before the forward)
 *   4. forward + backward (mse + l1 + ghost)
 *   5. steps_since_fired += 1, = 0 where a feature fired; act_freq += fired counts
 *   6. clip the global grad norm to 1.0 (torch clip_grad_norm_)
 *   7. remove the W_dec gradient component parallel to each row
 *   8. Adam; then the LR and L1 schedulers advance (closed forms of the step index here)
 *
 * After step index `totalTrainingSteps` (SAELens switches once n_tokens > training_tokens, i.e.
 * after step T = training_tokens / batch has run), a fine-tuning phase trains only the
 * parameters of `finetuningMethod`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import type { Sae } from '../sae/Sae.js';
import { saeLosses } from '../sae/losses.js';
import { colSum } from '../sae/ops.js';
import type { SparseStepMode } from '../sae/sparse.js';
import { Adam, type AdamState } from './Adam.js';
import { l1CoefficientAt, LrSchedule } from './schedules.js';
import type { FinetuningMethod, TrainerConfig } from './TrainerConfig.js';

export interface StepMetrics {
  step: number;
  /** l1 is the λ-weighted term that enters `total` (SAELens's l1_loss). */
  losses: { mse: number; l1: number; ghost: number; total: number };
  l0: number;
  explainedVarianceMean: number;
  explainedVarianceStd: number;
  deadFeatures: number;
  lr: number;
  l1Coefficient: number;
  phase: 'train' | 'finetune';
}

/** Everything a checkpoint needs to resume the trainer exactly. Plain data. */
export interface TrainerState {
  /** Format version of this record (absent in records built by hand: taken as 1). */
  version?: 1;
  /** Steps done (the next step's index). */
  step: number;
  /**
   * Positions of the LR and L1 schedulers (steps they have advanced). Both equal `step`: the
   * schedules are closed forms of the step index, kept explicit for readers of checkpoints.
   */
  lrSchedulerStep?: number;
  l1SchedulerStep?: number;
  finetuning: boolean;
  adam: AdamState;
  /** SAELens n_forward_passes_since_fired, [dSae]. */
  stepsSinceFired: Float32Array;
  /** SAELens act_freq_scores, [dSae] (fired counts since the last window reset). */
  actFreqScores: Float32Array;
  /** SAELens n_frac_active_tokens. */
  nFracActiveTokens: number;
}

type ParamName = 'W_enc' | 'b_enc' | 'W_dec' | 'b_dec' | 'scaling_factor';

/** Which parameters train in each phase (SAELens FINETUNING_PARAMETERS). */
const FINETUNING_PARAMETERS: Record<FinetuningMethod, ParamName[]> = {
  scale: ['scaling_factor'],
  decoder: ['scaling_factor', 'W_dec', 'b_dec'],
  unrotated_decoder: ['scaling_factor', 'b_dec'],
};
const TRAINING_PARAMETERS: ParamName[] = ['W_enc', 'b_enc', 'W_dec', 'b_dec'];

export interface SaeTrainerOptions {
  /** Sparse products in the step (src/sae/sparse.ts); default: sparseStepMode() ('auto'). */
  sparseStep?: SparseStepMode;
  /**
   * Largest batch × d_sae a single forward/backward runs on; larger batches run in row chunks
   * whose gradients are summed (same step up to float32 rounding). Default 2^25 (128 MB per
   * [batch, d_sae] float32 tensor: the wasm heap holds at most 4 GB).
   */
  maxChunkElements?: number;
}

const DEFAULT_MAX_CHUNK_ELEMENTS = 2 ** 25;

export class SaeTrainer {
  private readonly adam: Adam;
  private readonly lrSchedule: LrSchedule;
  private stepsDone = 0;
  private finetuning = false;
  private readonly stepsSinceFired: Float32Array;
  private readonly actFreqScores: Float32Array;
  private nFracActiveTokens = 0;
  private readonly useGhostGrads: boolean;
  /** scaling_factor is all ones and not trained: the decoder skips multiplying by it. */
  private readonly scalingIsOnes: boolean;

  constructor(
    readonly sae: Sae,
    readonly cfg: TrainerConfig,
    readonly options: SaeTrainerOptions = {},
  ) {
    validateTrainerConfig(cfg);
    this.adam = new Adam(cfg.adamBeta1, cfg.adamBeta2);
    this.lrSchedule = new LrSchedule({
      lr: cfg.lr,
      lrSchedulerName: cfg.lrSchedulerName,
      lrWarmUpSteps: cfg.lrWarmUpSteps,
      lrEnd: cfg.lrEnd,
      lrDecaySteps: cfg.lrDecaySteps,
      nRestartCycles: cfg.nRestartCycles,
      totalSteps: cfg.totalTrainingSteps + cfg.finetuningSteps,
    });
    this.stepsSinceFired = new Float32Array(sae.cfg.dSae);
    this.actFreqScores = new Float32Array(sae.cfg.dSae);
    this.useGhostGrads = cfg.useGhostGrads || sae.cfg.useGhostGrads;
    this.scalingIsOnes = sae.scalingFactor.dataSync().every((v) => v === 1);
  }

  static restore(sae: Sae, cfg: TrainerConfig, state: TrainerState, options: SaeTrainerOptions = {}): SaeTrainer {
    const t = new SaeTrainer(sae, cfg, options);
    const d = sae.cfg.dSae;
    if (state.stepsSinceFired.length !== d || state.actFreqScores.length !== d) {
      throw new ShapeError(`SaeTrainer.restore: dead-feature counters have ${state.stepsSinceFired.length} entries, the SAE has d_sae ${d}`);
    }
    if (state.version !== undefined && state.version !== 1) throw new ConfigError(`SaeTrainer.restore: trainer state version ${String(state.version)} is not supported (expected 1)`);
    if (!Number.isInteger(state.step) || state.step < 0) throw new ConfigError(`SaeTrainer.restore: step must be an integer >= 0, got ${state.step}`);
    t.stepsDone = state.step;
    t.finetuning = state.finetuning;
    t.stepsSinceFired.set(state.stepsSinceFired);
    t.actFreqScores.set(state.actFreqScores);
    t.nFracActiveTokens = state.nFracActiveTokens;
    t.adam.load(state.adam, t.shapes());
    return t;
  }

  get stepCount(): number {
    return this.stepsDone;
  }

  get phase(): 'train' | 'finetune' {
    return this.finetuning ? 'finetune' : 'train';
  }

  /** The learning rate and L1 coefficient the next step will use. */
  get currentLr(): number {
    return this.lrSchedule.at(this.stepsDone);
  }

  get currentL1Coefficient(): number {
    return l1CoefficientAt(this.stepsDone, this.cfg.l1Coefficient, this.cfg.l1WarmUpSteps);
  }

  /** act_freq_scores / n_frac_active_tokens (NaN right after a window reset, as SAELens). */
  featureSparsity(): Float32Array {
    const out = new Float32Array(this.actFreqScores.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.fround(this.actFreqScores[i]! / this.nFracActiveTokens);
    return out;
  }

  state(): TrainerState {
    return {
      version: 1,
      step: this.stepsDone,
      lrSchedulerStep: this.stepsDone,
      l1SchedulerStep: this.stepsDone,
      finetuning: this.finetuning,
      adam: this.adam.state(),
      stepsSinceFired: this.stepsSinceFired.slice(),
      actFreqScores: this.actFreqScores.slice(),
      nFracActiveTokens: this.nFracActiveTokens,
    };
  }

  /** The whole SAELens training step on batch x [batch, dIn]. Does not dispose x. */
  step(x: tf.Tensor2D): StepMetrics {
    const sae = this.sae;
    const scfg = sae.cfg;
    if (x.rank !== 2 || x.shape[1] !== scfg.dIn) {
      throw new ShapeError(`SaeTrainer.step: batch must be [n, ${scfg.dIn}] (d_in), got [${x.shape.join(', ')}]`);
    }
    if (x.dtype !== 'float32') throw new ShapeError(`SaeTrainer.step: batch must be float32, got ${x.dtype}`);
    const k = this.stepsDone;
    const batch = x.shape[0];
    const lr = this.lrSchedule.at(k);
    const l1c = l1CoefficientAt(k, this.cfg.l1Coefficient, this.cfg.l1WarmUpSteps);
    const phase = this.phase;

    // 1. decoder rows back to unit norm
    if (scfg.normalizeSaeDecoder) sae.normalizeDecoder();
    // 2. feature-sampling window
    if ((k + 1) % this.cfg.featureSamplingWindow === 0) {
      this.actFreqScores.fill(0);
      this.nFracActiveTokens = 0;
    }
    // 3. dead mask, before the forward pass
    const dead: number[] = [];
    for (let i = 0; i < this.stepsSinceFired.length; i++) {
      if (this.stepsSinceFired[i]! > this.cfg.deadFeatureWindow) dead.push(i);
    }
    const deadIdx = Int32Array.from(dead);

    const trainable = this.trainable();
    const vars = trainable.map((n) => this.variable(n));
    const params = sae.params();
    if (this.scalingIsOnes && !trainable.includes('scaling_factor')) params.scalingFactor = null;
    // 4. forward + backward, in row chunks when the [batch, d_sae] activations are large
    // (wasm's heap is at most 4 GB): mse, l1 and ghost are means over rows, so the gradient is
    // the row-weighted sum of the chunks' gradients. Not with noise (its draw has the batch's
    // shape) or dense_batch (its normalizer is a batch statistic). One chunk: the plain step.
    const chunkRows = this.chunkRows(batch);
    // Explained variance is against the whole batch's mean; a column sum as a product (colSum:
    // wasm's axis-0 mean transposes the whole batch first).
    const xMean = tf.tidy(() => tf.div(colSum(x), batch));
    let grads: tf.NamedTensorMap = {};
    let total = 0, mseSum = 0, l1Sum = 0, ghostSum = 0;
    let counts: Float32Array | null = null;
    const evs = new Float32Array(batch);
    let kept: tf.Tensor[] = [];
    try {
      for (let start = 0; start < batch; start += chunkRows) {
        const rows = Math.min(chunkRows, batch - start);
        const xc = rows === batch ? x : (tf.slice(x, [start, 0], [rows, scfg.dIn]) as tf.Tensor2D);
        const w = rows / batch;
        const { value, grads: g } = tf.variableGrads(() => {
          const terms = saeLosses(scfg, params, xc, {
            l1Coefficient: l1c,
            training: true,
            constantInput: true,
            deadIdx,
            useGhostGrads: this.useGhostGrads,
            noiseSeed: scfg.seed * 7919 + k,
            ...(this.options.sparseStep !== undefined ? { sparseStep: this.options.sparseStep } : {}),
          });
          // Statistics, kept out of the gradient scope's cleanup (small tensors only).
          // step(f) = 1 where f > 0 else 0 (one kernel where greater + cast are two, the first
          // slow on wasm); column sums as a product (colSum: axis-0 reductions are slow on wasm).
          const fired = tf.step(terms.featureActs) as tf.Tensor2D;
          const firedCounts = colSum(fired); // l0 = Σ counts / batch, summed below in float64
          // Not on the loss's gradient path: free its [batch, d_sae] now, not at the scope's end.
          fired.dispose();
          // ‖x̂ − x‖² per row: the loss's own per-row sum unless dense_batch divided it.
          const perTokenL2 = scfg.mseLossNormalization === 'dense_batch' ? tf.sum(tf.square(tf.sub(terms.saeOut, xc)), -1) : terms.perTokenMse;
          const totalVar = tf.sum(tf.square(tf.sub(xc, xMean)), -1);
          const ev = tf.sub(1, tf.div(perTokenL2, totalVar));
          kept = [terms.mse, terms.l1, terms.ghost, firedCounts, ev].map((t) => tf.keep(t));
          return w === 1 ? terms.loss : (tf.mul(terms.loss, w) as tf.Scalar);
        }, vars);
        if (xc !== x) xc.dispose();
        const [mse, l1, ghost, firedCounts, ev] = kept;
        total += value.dataSync()[0]!;
        value.dispose();
        mseSum += w * mse!.dataSync()[0]!;
        l1Sum += w * l1!.dataSync()[0]!;
        ghostSum += w * ghost!.dataSync()[0]!;
        const c = firedCounts!.dataSync() as Float32Array;
        if (!counts) counts = c.slice();
        else for (let i = 0; i < c.length; i++) counts[i] = counts[i]! + c[i]!;
        evs.set(ev!.dataSync(), start);
        tf.dispose(kept);
        kept = [];
        if (start === 0) grads = g;
        else {
          for (const name of Object.keys(g)) {
            const sum = tf.add(grads[name]!, g[name]!);
            grads[name]!.dispose();
            g[name]!.dispose();
            grads[name] = sum;
          }
        }
      }
    } catch (e) {
      tf.dispose(kept);
      tf.dispose(Object.values(grads));
      xMean.dispose();
      throw e;
    }
    xMean.dispose();

    try {
      tf.tidy(() => {
        const names = trainable;
        let g = names.map((n) => grads[this.variable(n).name]!);
        // 6. clip_grad_norm_(1.0): coef = min(1, 1 / (‖(‖g_i‖)_i‖ + 1e-6))
        const norms = g.map((gi) => tf.sqrt(tf.sum(tf.square(gi))));
        const total = tf.sqrt(tf.sum(tf.square(tf.stack(norms))));
        const coef = tf.minimum(tf.div(1.0, tf.add(total, 1e-6)), 1);
        g = g.map((gi) => tf.mul(gi, coef));
        // 7. project out the component of each W_dec row's gradient along the row
        const iDec = names.indexOf('W_dec');
        if (scfg.normalizeSaeDecoder && iDec >= 0) {
          const w = sae.W_dec;
          const gd = g[iDec]!;
          const par = tf.sum(tf.mul(gd, w), 1, true);
          g[iDec] = tf.sub(gd, tf.mul(par, w));
        }
        // 8. Adam
        names.forEach((n, i) => this.adam.update(n, this.variable(n), g[i]!, lr));
      });

      // 5. dead-feature and frequency bookkeeping
      let firedTotal = 0;
      for (let i = 0; i < counts!.length; i++) {
        const c = counts![i]!;
        firedTotal += c;
        this.stepsSinceFired[i] = c > 0 ? 0 : this.stepsSinceFired[i]! + 1;
        this.actFreqScores[i] = this.actFreqScores[i]! + c;
      }
      this.nFracActiveTokens += batch;
      const metrics: StepMetrics = {
        step: k,
        losses: { mse: mseSum, l1: l1Sum, ghost: ghostSum, total },
        l0: firedTotal / batch,
        explainedVarianceMean: mean(evs),
        explainedVarianceStd: std(evs),
        deadFeatures: deadIdx.length,
        lr,
        l1Coefficient: l1c,
        phase,
      };
      this.stepsDone = k + 1;
      // SAELens begins fine-tuning once n_tokens > training_tokens, i.e. after step T has run.
      if (!this.finetuning && this.cfg.finetuningMethod !== null && k >= this.cfg.totalTrainingSteps) {
        this.finetuning = true;
      }
      return metrics;
    } finally {
      tf.dispose(Object.values(grads));
    }
  }

  dispose(): void {
    this.adam.dispose();
  }

  /** Rows per forward/backward chunk (the whole batch unless chunking applies, see step()). */
  private chunkRows(batch: number): number {
    const scfg = this.sae.cfg;
    const max = this.options.maxChunkElements ?? DEFAULT_MAX_CHUNK_ELEMENTS;
    if (scfg.noiseScale > 0 || scfg.mseLossNormalization === 'dense_batch') return batch;
    if (batch * scfg.dSae <= max) return batch;
    return Math.max(1, Math.floor(max / scfg.dSae));
  }

  private trainable(): ParamName[] {
    if (!this.finetuning) return TRAINING_PARAMETERS;
    return FINETUNING_PARAMETERS[this.cfg.finetuningMethod!];
  }

  private variable(n: ParamName): tf.Variable {
    const s = this.sae;
    switch (n) {
      case 'W_enc':
        return s.W_enc;
      case 'b_enc':
        return s.b_enc;
      case 'W_dec':
        return s.W_dec;
      case 'b_dec':
        return s.b_dec;
      case 'scaling_factor':
        return s.scalingFactor;
    }
  }

  private shapes(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const n of ['W_enc', 'b_enc', 'W_dec', 'b_dec', 'scaling_factor'] as const) out[n] = this.variable(n).shape;
    return out;
  }
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

/** Unbiased standard deviation (torch's default). */
function std(a: ArrayLike<number>): number {
  if (a.length < 2) return NaN;
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - m) ** 2;
  return Math.sqrt(s / (a.length - 1));
}

export function validateTrainerConfig(cfg: TrainerConfig): void {
  const posInt = (k: keyof TrainerConfig, min: number) => {
    const v = cfg[k] as number;
    if (!Number.isInteger(v) || v < min) throw new ConfigError(`${k}: expected an integer >= ${min}, got ${v}`);
  };
  posInt('featureSamplingWindow', 1);
  posInt('deadFeatureWindow', 0);
  posInt('totalTrainingSteps', 0);
  posInt('finetuningSteps', 0);
  posInt('l1WarmUpSteps', 0);
  posInt('nRestartCycles', 1);
  if (!(cfg.adamBeta1 >= 0 && cfg.adamBeta1 < 1)) throw new ConfigError(`adamBeta1: expected in [0, 1), got ${cfg.adamBeta1}`);
  if (!(cfg.adamBeta2 >= 0 && cfg.adamBeta2 < 1)) throw new ConfigError(`adamBeta2: expected in [0, 1), got ${cfg.adamBeta2}`);
  if (cfg.finetuningMethod !== null && !(cfg.finetuningMethod in FINETUNING_PARAMETERS)) {
    throw new ConfigError(`finetuningMethod: unknown '${String(cfg.finetuningMethod)}', expected scale, decoder or unrotated_decoder`);
  }
}
