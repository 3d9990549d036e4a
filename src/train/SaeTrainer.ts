/**
 * One SAE's training loop state and step, for every architecture (src/sae/architectures/):
 * SAELens's `_train_step` (v1.5.0 for the `standard` SAE, DESIGN.md §5; SAELens 6's
 * `SAETrainer._train_step` for the others, which is the same sequence without steps 1 and 7):
 *
 *   1. the architecture's beforeStep (v1.5: renormalize W_dec rows)
 *   2. reset the feature-sampling window counters at the start of step i when
 *      (i + 1) % feature_sampling_window == 0
 *   3. dead mask = steps_since_fired > dead_feature_window (strict; before the forward)
 *   4. forward + backward of the architecture's loss terms (named as SAELens 6 logs them)
 *   5. steps_since_fired += 1, = 0 where a feature fired; act_freq += fired counts
 *   6. clip the global grad norm to 1.0 (torch clip_grad_norm_)
 *   7. the architecture's adjustGrads (v1.5: remove the W_dec gradient parallel to each row)
 *   8. Adam; the LR and coefficient schedulers advance (closed forms of the step index here);
 *      the architecture's afterStep (BatchTopK: threshold EMA)
 *
 * After step index `totalTrainingSteps` (SAELens switches once n_tokens > training_tokens, i.e.
 * after step T = training_tokens / batch has run), a fine-tuning phase trains only the
 * parameters the architecture names for it (v1.5: per `finetuningMethod`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import type { Sae } from '../sae/Sae.js';
import { colSum } from '../sae/ops.js';
import { sparseStepMode, type SparseStepMode } from '../sae/sparse.js';
import { Adam, type AdamState } from './Adam.js';
import { coefficientAt, LrSchedule } from './schedules.js';
import type { TrainerConfig } from './TrainerConfig.js';
import { type HostReading, readAsync, readSync } from '../backend/hostReads.js';

export interface StepMetrics {
  step: number;
  /** The SAE's architecture (registry name). */
  architecture: string;
  /**
   * Every loss term of the step under its SAELens 6 metric name (mse_loss, l1_loss,
   * ghost_grad_loss, auxiliary_reconstruction_loss, inner_mse_loss_<w>, …) plus overall_loss.
   */
  terms: Record<string, number>;
  /**
   * The v1.5 short view of `terms`: mse, l1 (the λ-weighted term, SAELens's l1_loss), ghost,
   * total; l1 and ghost are 0 for an architecture without such a term.
   */
  losses: { mse: number; l1: number; ghost: number; total: number };
  /** The value of each scheduled coefficient this step (after warm-up), by name (l1, l0, …). */
  coefficients: Record<string, number>;
  l0: number;
  explainedVarianceMean: number;
  explainedVarianceStd: number;
  deadFeatures: number;
  lr: number;
  /** coefficients.l1, or 0 for an architecture without one. */
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
   * Positions of the LR and coefficient schedulers (steps they have advanced). Both equal
   * `step`: the schedules are closed forms of the step index, kept explicit for readers.
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

export interface SaeTrainerOptions {
  /** Sparse products in the step (src/sae/sparse.ts); default: sparseStepMode() ('auto'). */
  sparseStep?: SparseStepMode;
  /**
   * Largest batch × d_sae a single forward/backward runs on; larger batches run in row chunks
   * whose gradients are summed (same step up to float32 rounding) when the architecture's
   * forward is row-separable. Default 2^25 (128 MB per [batch, d_sae] float32 tensor: the wasm
   * heap holds at most 4 GB).
   */
  maxChunkElements?: number;
}

const DEFAULT_MAX_CHUNK_ELEMENTS = 2 ** 25;

/** SAELens 6 loss-term names → the v1.5 short names of StepMetrics.losses. */
const SHORT_NAMES: Readonly<Record<string, 'mse' | 'l1' | 'ghost'>> = { mse_loss: 'mse', l1_loss: 'l1', ghost_grad_loss: 'ghost' };

export class SaeTrainer {
  private readonly adam: Adam;
  private readonly lrSchedule: LrSchedule;
  private stepsDone = 0;
  private finetuning = false;
  private readonly stepsSinceFired: Float32Array;
  private readonly actFreqScores: Float32Array;
  private nFracActiveTokens = 0;
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
    this.scalingIsOnes = sae.hasParam('scaling_factor') && sae.scalingFactor.dataSync().every((v) => v === 1);
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
    return this.currentCoefficients()['l1'] ?? 0;
  }

  /** The value of every scheduled coefficient the next step will use, by name. */
  currentCoefficients(): Record<string, number> {
    return this.coefficientsAt(this.stepsDone);
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

  /**
   * The whole training step on batch x [batch, dIn]; a transcoder also takes the target
   * [batch, dOut] its output reconstructs (the same rows of its output hook). Disposes neither.
   * The step's MSE, explained variance and per-token L2 are against the target.
   */
  step(x: tf.Tensor2D, target?: tf.Tensor2D): StepMetrics {
    return readSync(this.stepReading(x, target));
  }

  /**
   * step() with its read-backs asynchronous (`tensor.data()`): the same step, the same metrics,
   * for a backend whose synchronous reads stall or are slow (webgpu in a page: each dataSync()
   * round-trips through a canvas). The trainer is busy until the promise settles: await it
   * before the next step, and keep x and target alive until then.
   */
  stepAsync(x: tf.Tensor2D, target?: tf.Tensor2D): Promise<StepMetrics> {
    return readAsync(this.stepReading(x, target));
  }

  /**
   * The step, as a generator that yields the tensors whose values it needs on the host (once per
   * row chunk: the losses, statistics, fired counts and per-row explained variance) and is
   * resumed with their values, so step() and stepAsync() share one implementation.
   */
  private *stepReading(x: tf.Tensor2D, target?: tf.Tensor2D): HostReading<StepMetrics> {
    const sae = this.sae;
    const scfg = sae.cfg;
    const arch = sae.arch;
    if (x.rank !== 2 || x.shape[1] !== scfg.dIn) {
      throw new ShapeError(`SaeTrainer.step: batch must be [n, ${scfg.dIn}] (d_in), got [${x.shape.join(', ')}]`);
    }
    if (x.dtype !== 'float32') throw new ShapeError(`SaeTrainer.step: batch must be float32, got ${x.dtype}`);
    checkTarget(arch.name, arch.transcoder === true, sae.dOut, x, target);
    // what the output reconstructs: the target for a transcoder, the batch itself for an SAE
    const y = target ?? x;
    const dY = y.shape[1];
    this.checkUnchunkedFits(x.shape[0]);
    const k = this.stepsDone;
    const batch = x.shape[0];
    const lr = this.lrSchedule.at(k);
    const coefficients = this.coefficientsAt(k);
    const phase = this.phase;
    const vars = sae.variables();

    // 1. the architecture's own preparation (v1.5: decoder rows back to unit norm)
    arch.beforeStep?.(scfg, vars);
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
    const trainVars = trainable.map((n) => sae.param(n));
    const onesParams = new Set<string>(this.scalingIsOnes && !trainable.includes('scaling_factor') ? ['scaling_factor'] : []);
    // 4. forward + backward, in row chunks when the [batch, d_sae] activations are large
    // (wasm's heap is at most 4 GB) and the architecture's forward is row-separable: every loss
    // term is a mean over rows, so the gradient is the row-weighted sum of the chunks'.
    const chunkRows = this.chunkRows(batch);
    // Explained variance is against the whole batch's mean (of the target); a column sum as a
    // product (colSum: wasm's axis-0 mean transposes the whole batch first).
    const yMean = tf.tidy(() => tf.div(colSum(y), batch));
    let grads: tf.NamedTensorMap = {};
    let total = 0;
    const termSums: Record<string, number> = {};
    const statValues: Record<string, number> = {};
    let counts: Float32Array | null = null;
    const evs = new Float32Array(batch);
    let kept: Record<string, tf.Tensor> = {};
    try {
      for (let start = 0; start < batch; start += chunkRows) {
        const rows = Math.min(chunkRows, batch - start);
        const xc = rows === batch ? x : (tf.slice(x, [start, 0], [rows, scfg.dIn]) as tf.Tensor2D);
        // the target's rows of this chunk (the batch itself for an SAE)
        const yc = !target ? xc : rows === batch ? target : (tf.slice(target, [start, 0], [rows, dY]) as tf.Tensor2D);
        const w = rows / batch;
        const { value, grads: g } = tf.variableGrads(() => {
          const out = arch.trainingForward(scfg, vars, {
            x: xc,
            ...(target ? { target: yc } : {}),
            deadIdx,
            coefficients,
            step: k,
            trainer: this.cfg,
            onesParams,
            noiseSeed: scfg.seed * 7919 + k,
            // the sparse products only where they give the architecture's gradients
            ...(!arch.sparseStepValid ? { sparseStep: 'never' as const } : this.options.sparseStep !== undefined ? { sparseStep: this.options.sparseStep } : {}),
          });
          // Statistics, kept out of the gradient scope's cleanup (small tensors only).
          // step(f) = 1 where f > 0 else 0 (one kernel where greater + cast are two, the first
          // slow on wasm); column sums as a product (colSum: axis-0 reductions are slow on wasm).
          let firedCounts = out.firedCounts;
          if (!firedCounts) {
            if (!out.featureActs) throw new ShapeError(`architecture '${scfg.architecture}': trainingForward gave neither featureActs nor firedCounts`);
            const fired = tf.step(out.featureActs) as tf.Tensor2D;
            firedCounts = colSum(fired); // l0 = Σ counts / batch, summed below in float64
            // Not on the loss's gradient path: free its [batch, d_sae] now, not at the scope's end.
            fired.dispose();
          }
          const perTokenL2 = out.perTokenL2 ?? tf.sum(tf.square(tf.sub(out.saeOut, yc)), -1);
          const totalVar = tf.sum(tf.square(tf.sub(yc, yMean)), -1);
          const ev = tf.sub(1, tf.div(perTokenL2, totalVar));
          kept = { firedCounts: tf.keep(firedCounts), ev: tf.keep(ev) };
          for (const [name, t] of Object.entries(out.losses)) kept[`loss:${name}`] = tf.keep(t);
          for (const [name, t] of Object.entries(out.stats ?? {})) kept[`stat:${name}`] = tf.keep(t);
          return w === 1 ? out.loss : (tf.mul(out.loss, w) as tf.Scalar);
        }, trainVars);
        if (xc !== x) xc.dispose();
        if (yc !== xc && yc !== target) yc.dispose();
        kept['value'] = value;
        const keys = Object.keys(kept);
        let read: Float32Array[];
        try {
          read = yield keys.map((key) => kept[key]!);
        } catch (e) {
          tf.dispose(Object.values(g)); // not yet summed into grads
          throw e;
        }
        const got = new Map(keys.map((key, i) => [key, read[i]!]));
        total += got.get('value')![0]!;
        for (const [key, v] of got) {
          if (key.startsWith('loss:')) {
            const name = key.slice(5);
            termSums[name] = (termSums[name] ?? 0) + w * v[0]!;
          } else if (key.startsWith('stat:')) statValues[key.slice(5)] = v[0]!;
        }
        const c = got.get('firedCounts')!;
        if (!counts) counts = c.slice();
        else for (let i = 0; i < c.length; i++) counts[i] = counts[i]! + c[i]!;
        evs.set(got.get('ev')!, start);
        tf.dispose(Object.values(kept));
        kept = {};
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
      tf.dispose(Object.values(kept));
      tf.dispose(Object.values(grads));
      yMean.dispose();
      throw e;
    }
    yMean.dispose();

    try {
      tf.tidy(() => {
        const g: Record<string, tf.Tensor> = {};
        for (const n of trainable) g[n] = grads[sae.param(n).name]!;
        // 6. clip_grad_norm_(1.0): coef = min(1, 1 / (‖(‖g_i‖)_i‖ + 1e-6))
        const norms = trainable.map((n) => tf.sqrt(tf.sum(tf.square(g[n]!))));
        const totalNorm = tf.sqrt(tf.sum(tf.square(tf.stack(norms))));
        const coef = tf.minimum(tf.div(1.0, tf.add(totalNorm, 1e-6)), 1);
        for (const n of trainable) g[n] = tf.mul(g[n]!, coef);
        // 7. the architecture's gradient adjustment (v1.5: decoder-parallel component removed)
        arch.adjustGrads?.(scfg, vars, g);
        // 8. Adam
        for (const n of trainable) this.adam.update(n, sae.param(n), g[n]!, lr);
      });
      arch.afterStep?.(scfg, sae.state, statValues);

      // 5. dead-feature and frequency bookkeeping
      let firedTotal = 0;
      for (let i = 0; i < counts!.length; i++) {
        const c = counts![i]!;
        firedTotal += c;
        this.stepsSinceFired[i] = c > 0 ? 0 : this.stepsSinceFired[i]! + 1;
        this.actFreqScores[i] = this.actFreqScores[i]! + c;
      }
      this.nFracActiveTokens += batch;
      const terms: Record<string, number> = { ...termSums, overall_loss: total };
      const losses = { mse: 0, l1: 0, ghost: 0, total };
      for (const [name, v] of Object.entries(termSums)) {
        const short = SHORT_NAMES[name];
        if (short) losses[short] = v;
      }
      const metrics: StepMetrics = {
        step: k,
        architecture: arch.name,
        terms,
        losses,
        coefficients,
        l0: firedTotal / batch,
        explainedVarianceMean: mean(evs),
        explainedVarianceStd: std(evs),
        deadFeatures: deadIdx.length,
        lr,
        l1Coefficient: coefficients['l1'] ?? 0,
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

  private coefficientsAt(k: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, c] of Object.entries(this.sae.arch.coefficients(this.sae.cfg, this.cfg))) out[name] = coefficientAt(k, c.value, c.warmUpSteps);
    return out;
  }

  /**
   * A dense step that cannot run in row chunks (a batch-wide top-k, or dense_batch MSE) holds
   * several [batch, d_sae] tensors at once: past maxChunkElements on wasm (4 GB heap) it aborts
   * the process mid-step (measured: matryoshka_batchtopk, dense, at batch 4096 × d_sae 12288), so
   * it is refused here, before anything is allocated.
   */
  private checkUnchunkedFits(batch: number): void {
    const scfg = this.sae.cfg;
    const arch = this.sae.arch;
    const max = this.options.maxChunkElements ?? DEFAULT_MAX_CHUNK_ELEMENTS;
    if (batch * scfg.dSae <= max || tf.getBackend() !== 'wasm' || arch.rowSeparable(scfg)) return;
    const mode = this.options.sparseStep ?? sparseStepMode();
    if (arch.materializesActivations?.(scfg, mode) === false) return;
    throw new ConfigError(
      `SaeTrainer.step: ${arch.name}'s dense step at batch ${batch} × d_sae ${scfg.dSae} = ${batch * scfg.dSae} elements per [batch, d_sae] tensor ` +
        `exceeds the limit ${max} (maxChunkElements; the wasm heap holds at most 4 GB) and cannot run in row chunks ` +
        `(${scfg.mseLossNormalization === 'dense_batch' ? "mse_loss_normalization 'dense_batch'" : 'its top-k spans the batch'}). ` +
        `Use the sparse step (sparse step mode '${mode}' chose dense: SAE_RX_SPARSE_STEP=auto|always, needs the native kernels), ` +
        'a smaller train_batch_size or d_sae, or raise maxChunkElements',
    );
  }

  /** Rows per forward/backward chunk (the whole batch unless chunking applies, see step()). */
  private chunkRows(batch: number): number {
    const scfg = this.sae.cfg;
    const max = this.options.maxChunkElements ?? DEFAULT_MAX_CHUNK_ELEMENTS;
    if (!this.sae.arch.rowSeparable(scfg)) return batch;
    if (this.sae.arch.materializesActivations?.(scfg, this.options.sparseStep ?? sparseStepMode()) === false) return batch;
    if (batch * scfg.dSae <= max) return batch;
    return Math.max(1, Math.floor(max / scfg.dSae));
  }

  private trainable(): readonly string[] {
    const arch = this.sae.arch;
    return arch.trainableParams?.(this.sae.cfg, this.phase, this.cfg) ?? arch.params(this.sae.cfg).map((p) => p.name);
  }

  private shapes(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [n, v] of Object.entries(this.sae.variables())) out[n] = v.shape;
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

/** A transcoder's step needs its target [batch, d_out]; an SAE's step takes none (its target is x). */
function checkTarget(arch: string, transcoder: boolean, dOut: number, x: tf.Tensor2D, target: tf.Tensor2D | undefined): void {
  if (!transcoder) {
    if (target) throw new ShapeError(`SaeTrainer.step: '${arch}' is an SAE (it reconstructs its input); it takes no target, got one [${target.shape.join(', ')}]`);
    return;
  }
  if (!target) throw new ShapeError(`SaeTrainer.step: '${arch}' is a transcoder: it needs the target [${x.shape[0]}, ${dOut}] (its output hook's activations), got none`);
  if (target.rank !== 2 || target.shape[0] !== x.shape[0] || target.shape[1] !== dOut) {
    throw new ShapeError(`SaeTrainer.step: target must be [${x.shape[0]}, ${dOut}] (the batch's rows, d_out), got [${target.shape.join(', ')}]`);
  }
  if (target.dtype !== 'float32') throw new ShapeError(`SaeTrainer.step: target must be float32, got ${target.dtype}`);
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
  if (cfg.finetuningMethod !== null && !['scale', 'decoder', 'unrotated_decoder'].includes(cfg.finetuningMethod)) {
    throw new ConfigError(`finetuningMethod: unknown '${String(cfg.finetuningMethod)}', expected scale, decoder or unrotated_decoder`);
  }
}
