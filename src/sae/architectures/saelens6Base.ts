/**
 * What SAELens 6's `TrainingSAE` base gives every architecture but v1.5's standard SAE
 * (sae_lens/saes/sae.py): the `decoder_init_norm` field, the initialisation, the encoder's
 * pre-activations on `process_sae_in(x) = x − b_dec` (apply_b_dec_to_input), the summed-over-d_in
 * MSE, and the fold of decoder row norms into the encoder applied when saving for inference.
 *
 * Init (TrainingSAE.initialize_weights): W_dec kaiming-uniform [d_sae, d_in] rows rescaled to norm
 * decoder_init_norm (0.1, Anthropic's April-2024 heuristic), W_enc = W_decᵀ, biases zero. With
 * decoder_init_norm null, W_enc and W_dec are independent kaiming-uniform draws.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FieldTable } from '../../config/fields.js';
import { ConfigError } from '../../errors.js';
import { kaimingUniform, unitRows } from '../init.js';
import { perItemMse } from '../losses.js';
import { saeMatMulImpl } from '../ops.js';
import type { SaeConfig } from '../SaeConfig.js';
import { encodeConstantInput, sparseGradEncode, sparseStepMode, type SparseStepMode } from '../sparse.js';
import type { InferenceSave, ParamSpec, ParamTensors, TrainingStepInput } from './Architecture.js';

/** A field of cfg.archFields (decoded with its table's defaults). */
export function field<T>(cfg: SaeConfig, name: string): T {
  const f = cfg.archFields ?? {};
  if (!(name in f)) throw new ConfigError(`architecture '${cfg.architecture}': field ${name} is missing from archFields (decode the config with its field table)`);
  return f[name] as T;
}

/** Rejects archFields keys the architecture does not declare, naming the field. */
export function checkKnownFields(cfg: SaeConfig, table: FieldTable): void {
  for (const k of Object.keys(cfg.archFields ?? {})) {
    if (!(k in table)) throw new ConfigError(`architecture '${cfg.architecture}' has no field ${k} (its fields: ${Object.keys(table).join(', ')})`);
  }
}

/**
 * The width of the output: d_out for a transcoder (SaeConfig.dOut), d_in for an SAE. Every
 * architecture sizes W_dec [d_sae, out] and b_dec [out] by it, so a transcoder is the same
 * architecture with a different output width (architectures/transcoder.ts).
 */
export function outDim(cfg: SaeConfig): number {
  return cfg.dOut ?? cfg.dIn;
}

/** Whether cfg is a transcoder's (it has a d_out): its output reconstructs another hook's activations. */
export function isTranscoder(cfg: SaeConfig): boolean {
  return cfg.dOut !== undefined;
}

/** W_enc, b_enc, W_dec, b_dec (W_dec and b_dec d_out wide for a transcoder). */
export function baseParams(cfg: SaeConfig): ParamSpec[] {
  const out = outDim(cfg);
  return [
    { name: 'W_enc', shape: [cfg.dIn, cfg.dSae] },
    { name: 'b_enc', shape: [cfg.dSae] },
    { name: 'W_dec', shape: [cfg.dSae, out] },
    { name: 'b_dec', shape: [out] },
  ];
}

/**
 * SAELens 6's initial weights (see the file comment). A transcoder's W_enc is always its own
 * kaiming-uniform draw, as SAELens's `Transcoder.initialize_weights` (W_enc = W_decᵀ needs
 * d_in = d_out); decoder_init_norm still sets its decoder rows' norm (null: SAELens's Transcoder
 * init exactly, kaiming-uniform rows).
 */
export function baseInit(cfg: SaeConfig, seed: number): Record<string, tf.Tensor> {
  return tf.tidy(() => {
    const norm = field<number | null>(cfg, 'decoder_init_norm');
    const out = outDim(cfg);
    let wDec = kaimingUniform([cfg.dSae, out], seed);
    let wEnc: tf.Tensor2D;
    if (norm !== null) wDec = tf.mul(unitRows(wDec), norm);
    if (norm !== null && !isTranscoder(cfg)) wEnc = tf.transpose(wDec);
    else wEnc = kaimingUniform([cfg.dIn, cfg.dSae], seed + 3);
    return { W_enc: wEnc, b_enc: tf.zeros([cfg.dSae]), W_dec: wDec, b_dec: tf.zeros([out]) };
  });
}

/**
 * What the output reconstructs in a training step: the step's target (a transcoder's output
 * hook), else the input itself (an SAE).
 */
export function reconstructionTarget(s: TrainingStepInput): tf.Tensor2D {
  return s.target ?? s.x;
}

/** Tensors of the base parameters. */
export function baseTensors(p: ParamTensors): { W_enc: tf.Tensor2D; b_enc: tf.Tensor1D; W_dec: tf.Tensor2D; b_dec: tf.Tensor1D } {
  return { W_enc: p['W_enc'] as tf.Tensor2D, b_enc: p['b_enc'] as tf.Tensor1D, W_dec: p['W_dec'] as tf.Tensor2D, b_dec: p['b_dec'] as tf.Tensor1D };
}

/**
 * Training pre-activations x̃ W_enc + b_enc (x̃ = x − b_dec when apply_b_dec_to_input), through
 * the products of sparse.ts (x needs no gradient).
 */
export function trainingPreActs(cfg: SaeConfig, p: ParamTensors, x: tf.Tensor2D, mode: SparseStepMode = sparseStepMode()): tf.Tensor2D {
  const { W_enc, b_enc, b_dec } = baseTensors(p);
  if (!cfg.applyBDecToInput) return sparseGradEncode(x, W_enc, b_enc, mode);
  const saeIn = tf.sub(x, b_dec) as tf.Tensor2D;
  if (mode === 'never' && saeMatMulImpl() !== 'saeMatMul') return sparseGradEncode(saeIn, W_enc, b_enc, mode);
  return encodeConstantInput(x, b_dec, W_enc, b_enc, mode, saeIn);
}

/** Inference sae_in and pre-activations. */
export function inferencePreActs(cfg: SaeConfig, p: ParamTensors, x: tf.Tensor2D): { saeIn: tf.Tensor2D; hiddenPre: tf.Tensor2D } {
  const { W_enc, b_enc, b_dec } = baseTensors(p);
  const saeIn = cfg.applyBDecToInput ? (tf.sub(x, b_dec) as tf.Tensor2D) : x;
  return { saeIn, hiddenPre: tf.add(tf.matMul(saeIn, W_enc), b_enc) as tf.Tensor2D };
}

/**
 * mse_loss = mean_b Σ_d (x̂ − y)² (÷ the centred batch norm with dense_batch), and its per-row
 * sums; y is the reconstruction target (reconstructionTarget: x for an SAE).
 */
export function mseLoss(cfg: SaeConfig, saeOut: tf.Tensor2D, target: tf.Tensor2D): { mse: tf.Scalar; perRow: tf.Tensor1D } {
  const perRow = tf.sum(perItemMse(saeOut, target, cfg.mseLossNormalization), -1) as tf.Tensor1D;
  return { mse: tf.mean(perRow) as tf.Scalar, perRow };
}

/**
 * SAELens `_fold_norm_topk` (also the JumpReLU fold): n = max(‖W_dec row‖, 1e-8);
 * b_enc·n, W_dec / n (rows), W_enc·n (columns). Float32 results, float32 arithmetic.
 */
export function foldDecoderNorms(cfg: SaeConfig, w: Readonly<Record<string, Float32Array>>): { W_enc: Float32Array; b_enc: Float32Array; W_dec: Float32Array; norms: Float32Array } {
  const { dIn, dSae } = cfg;
  const dOut = outDim(cfg);
  const W_enc = new Float32Array(w['W_enc']!);
  const b_enc = new Float32Array(w['b_enc']!);
  const W_dec = new Float32Array(w['W_dec']!);
  const norms = new Float32Array(dSae);
  for (let i = 0; i < dSae; i++) {
    let s = 0;
    for (let j = 0; j < dOut; j++) s += W_dec[i * dOut + j]! ** 2;
    norms[i] = Math.max(Math.fround(Math.sqrt(s)), 1e-8);
  }
  for (let i = 0; i < dSae; i++) {
    const n = norms[i]!;
    b_enc[i] = Math.fround(b_enc[i]! * n);
    for (let j = 0; j < dOut; j++) W_dec[i * dOut + j] = Math.fround(W_dec[i * dOut + j]! / n);
  }
  for (let r = 0; r < dIn; r++) for (let i = 0; i < dSae; i++) W_enc[r * dSae + i] = Math.fround(W_enc[r * dSae + i]! * norms[i]!);
  return { W_enc, b_enc, W_dec, norms };
}

/** The trained weights saved for inference as they are, under the parameter names and shapes. */
export function inferenceWeightsAsIs(specs: readonly ParamSpec[], w: Readonly<Record<string, Float32Array>>): InferenceSave['weights'] {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const spec of specs) out[spec.name] = { shape: [...spec.shape], data: w[spec.name]! };
  return out;
}
