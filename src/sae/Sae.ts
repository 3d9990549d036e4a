/**
 * The standard sparse autoencoder of SAELens v1.5.0 (DESIGN.md §5), as tfjs variables.
 *
 *   sae_in = x − b_dec (apply_b_dec_to_input),  h_pre = sae_in @ W_enc + b_enc,
 *   f = act(h_pre) (relu | tanh-relu),          x̂ = (f ⊙ scaling_factor) @ W_dec + b_dec.
 *
 * Losses and the training step live in losses.ts and src/train/; this class holds weights,
 * runs the (inference) forward pass, and initialises.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import type { SaeConfig } from './SaeConfig.js';
import { geometricMedian } from './geometricMedian.js';
import { initialWeights, unitRows, type InitialWeights } from './init.js';
import { mm } from './ops.js';

/** Plain-data copy of an SAE: Float32Arrays (row-major) + its config. No tensors. */
export interface SaeSnapshot {
  readonly cfg: SaeConfig;
  readonly W_enc: Float32Array; // [dIn, dSae]
  readonly b_enc: Float32Array; // [dSae]
  readonly W_dec: Float32Array; // [dSae, dIn]
  readonly b_dec: Float32Array; // [dIn]
  readonly scalingFactor: Float32Array; // [dSae]
}

export interface SaeWeights {
  W_enc: Float32Array;
  b_enc: Float32Array;
  W_dec: Float32Array;
  b_dec: Float32Array;
  scalingFactor?: Float32Array;
}

export interface SaeForward {
  out: tf.Tensor2D;
  featureActs: tf.Tensor2D;
  hiddenPre: tf.Tensor2D;
  saeIn: tf.Tensor2D;
}

/** The parameter tensors the maths runs on (variables, or plain tensors in tests). */
export interface SaeParams {
  W_enc: tf.Tensor2D;
  b_enc: tf.Tensor1D;
  W_dec: tf.Tensor2D;
  b_dec: tf.Tensor1D;
  /** null: known to be all ones (training phase), the multiply is skipped (x·1 = x exactly). */
  scalingFactor: tf.Tensor1D | null;
}

export function activation(fn: SaeConfig['activationFn'], h: tf.Tensor2D): tf.Tensor2D {
  if (fn === 'relu') return tf.relu(h);
  if (fn === 'tanh-relu') return tf.tanh(tf.relu(h));
  throw new ConfigError(`activation_fn: unknown '${String(fn)}', expected relu or tanh-relu`);
}

/** sae_in and hidden_pre (before noise) for x. */
export function encodePre(cfg: SaeConfig, p: SaeParams, x: tf.Tensor2D): { saeIn: tf.Tensor2D; hiddenPre: tf.Tensor2D } {
  const saeIn = cfg.applyBDecToInput ? (tf.sub(x, p.b_dec) as tf.Tensor2D) : x;
  const hiddenPre = tf.add(mm(saeIn, p.W_enc), p.b_enc) as tf.Tensor2D;
  return { saeIn, hiddenPre };
}

/** x̂ = (f ⊙ scaling_factor) @ W_dec + b_dec. */
export function decodeWith(p: SaeParams, f: tf.Tensor2D): tf.Tensor2D {
  const scaled = p.scalingFactor ? (tf.mul(f, p.scalingFactor) as tf.Tensor2D) : f;
  return tf.add(mm(scaled, p.W_dec), p.b_dec) as tf.Tensor2D;
}

export const SAE_HOOK_NAMES = ['hook_sae_in', 'hook_hidden_pre', 'hook_hidden_post', 'hook_sae_out'] as const;
export type SaeHookName = (typeof SAE_HOOK_NAMES)[number];

let nextVariableId = 0;

export class Sae {
  readonly cfg: SaeConfig;
  readonly W_enc: tf.Variable;
  readonly b_enc: tf.Variable;
  readonly W_dec: tf.Variable;
  readonly b_dec: tf.Variable;
  readonly scalingFactor: tf.Variable;
  private disposed = false;

  private constructor(cfg: SaeConfig, w: InitialWeights) {
    validateConfig(cfg);
    this.cfg = cfg;
    // Unique names: tfjs keeps a global registry of variable names.
    const id = nextVariableId++;
    this.W_enc = tf.variable(w.W_enc, true, `sae${id}/W_enc`);
    this.b_enc = tf.variable(w.b_enc, true, `sae${id}/b_enc`);
    this.W_dec = tf.variable(w.W_dec, true, `sae${id}/W_dec`);
    this.b_dec = tf.variable(w.b_dec, true, `sae${id}/b_dec`);
    this.scalingFactor = tf.variable(w.scalingFactor, true, `sae${id}/scaling_factor`);
  }

  /** A fresh SAE initialised per cfg (kaiming-uniform, decoder options); b_dec zeros. */
  static create(cfg: SaeConfig, opts: { seed?: number } = {}): Sae {
    validateConfig(cfg);
    const w = initialWeights(cfg, opts.seed ?? cfg.seed);
    try {
      return new Sae(cfg, w);
    } finally {
      tf.dispose(Object.values(w));
    }
  }

  /** An SAE from row-major Float32Arrays (scalingFactor defaults to ones, as SAELens). */
  static fromWeights(cfg: SaeConfig, w: SaeWeights): Sae {
    validateConfig(cfg);
    const { dIn, dSae } = cfg;
    const want: Array<[string, Float32Array | undefined, number]> = [
      ['W_enc', w.W_enc, dIn * dSae],
      ['b_enc', w.b_enc, dSae],
      ['W_dec', w.W_dec, dSae * dIn],
      ['b_dec', w.b_dec, dIn],
      ['scaling_factor', w.scalingFactor, dSae],
    ];
    for (const [name, arr, n] of want) {
      if (arr !== undefined && arr.length !== n) {
        throw new ShapeError(`Sae.fromWeights: ${name} has ${arr.length} values, expected ${n} (d_in ${dIn}, d_sae ${dSae})`);
      }
    }
    const t: InitialWeights = {
      W_enc: tf.tensor2d(w.W_enc, [dIn, dSae]),
      b_enc: tf.tensor1d(w.b_enc),
      W_dec: tf.tensor2d(w.W_dec, [dSae, dIn]),
      b_dec: tf.tensor1d(w.b_dec),
      scalingFactor: w.scalingFactor ? tf.tensor1d(w.scalingFactor) : (tf.ones([dSae]) as tf.Tensor1D),
    };
    try {
      return new Sae(cfg, t);
    } finally {
      tf.dispose(Object.values(t));
    }
  }

  /** The variables as SaeParams (no copies). */
  params(): SaeParams {
    return {
      W_enc: this.W_enc as tf.Tensor2D,
      b_enc: this.b_enc as tf.Tensor1D,
      W_dec: this.W_dec as tf.Tensor2D,
      b_dec: this.b_dec as tf.Tensor1D,
      scalingFactor: this.scalingFactor as tf.Tensor1D,
    };
  }

  /**
   * Sets b_dec from a sample of activations per cfg.bDecInitMethod: geometric median
   * (Weiszfeld, 100 iterations), mean, or zeros (left as is).
   */
  initBDec(sample: tf.Tensor2D): void {
    this.checkInput(sample, 'initBDec');
    const m = this.cfg.bDecInitMethod;
    if (m === 'zeros') return;
    if (m === 'geometric_median') {
      const { median } = geometricMedian(sample, { maxIter: 100 });
      this.b_dec.assign(median);
      median.dispose();
    } else if (m === 'mean') {
      const mean = tf.mean(sample, 0);
      this.b_dec.assign(mean);
      mean.dispose();
    } else {
      throw new ConfigError(`b_dec_init_method: unknown '${String(m)}', expected geometric_median, mean or zeros`);
    }
  }

  encode(x: tf.Tensor2D): tf.Tensor2D {
    this.checkInput(x, 'encode');
    return tf.tidy(() => activation(this.cfg.activationFn, encodePre(this.cfg, this.params(), x).hiddenPre));
  }

  decode(f: tf.Tensor2D): tf.Tensor2D {
    if (f.rank !== 2 || f.shape[1] !== this.cfg.dSae) {
      throw new ShapeError(`Sae.decode: feature acts must be [n, ${this.cfg.dSae}], got [${f.shape.join(', ')}]`);
    }
    return tf.tidy(() => decodeWith(this.params(), f));
  }

  /** Inference forward pass (no noise). The caller disposes every returned tensor. */
  forward(x: tf.Tensor2D): SaeForward {
    this.checkInput(x, 'forward');
    return tf.tidy(() => {
      const p = this.params();
      const { saeIn, hiddenPre } = encodePre(this.cfg, p, x);
      const featureActs = activation(this.cfg.activationFn, hiddenPre);
      const out = decodeWith(p, featureActs);
      // sae_in may be x itself (apply_b_dec_to_input false): hand back a copy the caller owns.
      return { out, featureActs, hiddenPre, saeIn: saeIn === x ? tf.clone(x) : saeIn };
    });
  }

  /**
   * The forward pass's values under SAELens's hook names (hook_sae_in, hook_hidden_pre,
   * hook_hidden_post, hook_sae_out). The caller disposes them.
   */
  forwardHooks(x: tf.Tensor2D): Record<SaeHookName, tf.Tensor2D> {
    const r = this.forward(x);
    return { hook_sae_in: r.saeIn, hook_hidden_pre: r.hiddenPre, hook_hidden_post: r.featureActs, hook_sae_out: r.out };
  }

  /** W_dec rows to unit norm (in place). */
  normalizeDecoder(): void {
    const unit = unitRows(this.W_dec as tf.Tensor2D);
    this.W_dec.assign(unit);
    unit.dispose();
  }

  snapshot(): SaeSnapshot {
    return {
      cfg: this.cfg,
      W_enc: this.W_enc.dataSync() as Float32Array,
      b_enc: this.b_enc.dataSync() as Float32Array,
      W_dec: this.W_dec.dataSync() as Float32Array,
      b_dec: this.b_dec.dataSync() as Float32Array,
      scalingFactor: this.scalingFactor.dataSync() as Float32Array,
    };
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([this.W_enc, this.b_enc, this.W_dec, this.b_dec, this.scalingFactor]);
  }

  private checkInput(x: tf.Tensor, op: string): void {
    if (x.rank !== 2 || x.shape[1] !== this.cfg.dIn) {
      throw new ShapeError(`Sae.${op}: input must be [n, ${this.cfg.dIn}] (d_in), got [${x.shape.join(', ')}]`);
    }
  }
}

export function validateConfig(cfg: SaeConfig): void {
  if (cfg.architecture !== 'standard') {
    throw new ConfigError(`architecture: '${String(cfg.architecture)}' is not supported by Sae, expected 'standard'`);
  }
  for (const k of ['dIn', 'dSae'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new ConfigError(`${k}: expected a positive integer, got ${cfg[k]}`);
  }
  if (cfg.activationFn !== 'relu' && cfg.activationFn !== 'tanh-relu') {
    throw new ConfigError(`activationFn: unknown '${String(cfg.activationFn)}', expected relu or tanh-relu`);
  }
  if (!(cfg.lpNorm > 0)) throw new ConfigError(`lpNorm: expected > 0, got ${cfg.lpNorm}`);
  if (cfg.mseLossNormalization !== null && cfg.mseLossNormalization !== 'dense_batch') {
    throw new ConfigError(`mseLossNormalization: expected null or 'dense_batch', got '${String(cfg.mseLossNormalization)}'`);
  }
}
