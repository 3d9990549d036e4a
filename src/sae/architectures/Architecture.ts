/**
 * What an SAE architecture declares (SAELens 6's `TrainingSAE` subclasses + `register_sae_class`,
 * as plain functions on tensors). The `Sae` container, the trainer (`train/SaeTrainer.ts`),
 * checkpoints, evals and the records loop over what is declared here, by name:
 *
 * - config fields: `fields`, a field table under SAELens 6's names with its defaults (the
 *   `sae:` block of a runner config; `--help` lists them); decoded values sit in
 *   `SaeConfig.archFields`;
 * - parameters: `params(cfg)` (SAELens state-dict names, shapes) and `init(cfg, seed)`;
 *   float64 scalar buffers (BatchTopK's `topk_threshold`) are `state` numbers, not tensors;
 * - inference: `forward` / `decode`;
 * - training: `trainingForward` returns the loss terms by SAELens 6 metric name (`mse_loss`,
 *   `l1_loss`, `auxiliary_reconstruction_loss`, …), whose sum is the loss; `coefficients`
 *   names the scheduled coefficients (SAELens `get_coefficients`, each with its warm-up);
 * - around the optimizer: `beforeStep`, `adjustGrads`, `afterStep` (e.g. a threshold update);
 * - saving: `toInference` converts trained weights into what SAELens saves for inference
 *   (TopK folds decoder norms; BatchTopK becomes `jumprelu`).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { FieldTable } from '../../config/fields.js';
import type { SaeConfig } from '../SaeConfig.js';
import type { SparseStepMode } from '../sparse.js';

/** One parameter of an SAE, under its SAELens state-dict name. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Parameter tensors by name (variables while training; plain tensors in tests). */
export type ParamTensors = Readonly<Record<string, tf.Tensor>>;

/** Scalar float64 buffers of an architecture by name (BatchTopK's topk_threshold). */
export type ArchState = Record<string, number>;

/** The inference forward pass. The caller owns (disposes) every tensor. */
export interface InferenceForward {
  readonly saeIn: tf.Tensor2D;
  readonly hiddenPre: tf.Tensor2D;
  readonly featureActs: tf.Tensor2D;
  readonly out: tf.Tensor2D;
}

/** The trainer's settings an architecture may read (a structural subset of TrainerConfig). */
export interface TrainerSettings {
  readonly l1Coefficient: number;
  readonly l1WarmUpSteps: number;
  readonly useGhostGrads: boolean;
  readonly finetuningMethod: 'scale' | 'decoder' | 'unrotated_decoder' | null;
}

/** What one training forward pass gets (SAELens `TrainStepInput`). */
export interface TrainingStepInput {
  /** The batch [n, d_in]; it needs no gradient. */
  readonly x: tf.Tensor2D;
  /**
   * What the output should reconstruct, [n, d_out]: transcoders get the target hook's
   * activations; absent for SAEs (the target is `x`). It needs no gradient.
   */
  readonly target?: tf.Tensor2D;
  /** Latents with steps_since_fired > dead_feature_window, taken before this forward pass. */
  readonly deadIdx: Int32Array;
  /** This step's value of every coefficient `coefficients()` declares (after warm-up). */
  readonly coefficients: Readonly<Record<string, number>>;
  /** 0-based index of this step. */
  readonly step: number;
  readonly trainer: TrainerSettings;
  /** Parameters that do not train this step and are known to be all ones (their multiply may be skipped). */
  readonly onesParams: ReadonlySet<string>;
  /** Sparse or dense products where `sparseStepValid` (src/sae/sparse.ts). */
  readonly sparseStep?: SparseStepMode;
  /** Seed of any noise drawn this step. */
  readonly noiseSeed: number;
}

/** What one training forward pass returns. Tensors live in the caller's tidy/gradient scope. */
export interface TrainingForwardOutput {
  /** Every loss term under its SAELens 6 metric name; `loss` is their sum. */
  readonly losses: Readonly<Record<string, tf.Scalar>>;
  readonly loss: tf.Scalar;
  /** The feature activations [n, d_sae]; absent when the step never builds them (then `firedCounts`). */
  readonly featureActs?: tf.Tensor2D;
  /** Per latent, how many rows fired it [d_sae] (else the trainer counts featureActs > 0). */
  readonly firedCounts?: tf.Tensor1D;
  readonly saeOut: tf.Tensor2D;
  /** ‖x̂ − x‖² per row when the loss has it at hand (else the trainer computes it). */
  readonly perTokenL2?: tf.Tensor1D;
  /**
   * Scalars `afterStep` needs (e.g. the smallest positive activation), by name. They are kept
   * (tf.keep: they outlive the gradient scope); the caller disposes them.
   */
  readonly stats?: Readonly<Record<string, tf.Scalar>>;
}

/** A scheduled coefficient (SAELens `TrainCoefficientConfig`): linear warm-up from 0. */
export interface Coefficient {
  readonly value: number;
  readonly warmUpSteps: number;
}

/** A tensor of an inference weight set (row-major float32). */
export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * What SAELens saves for inference (`process_state_dict_for_saving_inference` and
 * `get_inference_config_class`): the inference architecture's name as cfg.json writes it, its
 * own cfg.json fields, and its weights under the SAELens key names.
 */
export interface InferenceSave {
  readonly architecture: string;
  readonly cfg: Readonly<Record<string, unknown>>;
  readonly weights: Readonly<Record<string, WeightTensor>>;
}

export interface Architecture {
  /** Registry name (the `architecture` a config gives). */
  readonly name: string;
  /** One line for `--help` and errors. */
  readonly summary: string;
  /**
   * A transcoder (architectures/transcoder.ts): its config has d_out and its training steps a
   * target (TrainingStepInput.target). Absent/false: an SAE, whose output reconstructs its input.
   */
  readonly transcoder?: boolean;
  /** The architecture's own config fields under SAELens 6's names, with their defaults. */
  readonly fields: FieldTable;
  /**
   * Whether the sparse products of src/sae/sparse.ts give this architecture's gradients: the
   * feature activations must be zero exactly where their gradient to the pre-activations is.
   */
  readonly sparseStepValid: boolean;
  /**
   * Whether a batch may be split into row chunks whose gradients add up to the batch's (false
   * when the forward pass couples rows, as BatchTopK's batch-wide top-k does).
   */
  rowSeparable(cfg: SaeConfig): boolean;
  /**
   * Whether the training forward builds [batch, d_sae] tensors in this sparse-step mode (default
   * true). The trainer splits large batches into row chunks only to bound those.
   */
  materializesActivations?(cfg: SaeConfig, mode: SparseStepMode): boolean;
  /** Throws a ConfigError naming the field when cfg cannot build this architecture. */
  validate(cfg: SaeConfig): void;
  params(cfg: SaeConfig): readonly ParamSpec[];
  /** Fresh parameters by name (b_dec zeros: data-dependent init comes later). */
  init(cfg: SaeConfig, seed: number): Record<string, tf.Tensor>;
  /** A fresh copy of the initial state (every state name the architecture keeps). */
  initialState(): ArchState;
  forward(cfg: SaeConfig, p: ParamTensors, x: tf.Tensor2D, state: Readonly<ArchState>): InferenceForward;
  decode(cfg: SaeConfig, p: ParamTensors, f: tf.Tensor2D): tf.Tensor2D;
  trainingForward(cfg: SaeConfig, p: ParamTensors, s: TrainingStepInput): TrainingForwardOutput;
  coefficients(cfg: SaeConfig, trainer: TrainerSettings): Readonly<Record<string, Coefficient>>;
  /** The parameters the optimizer trains in a phase (default: all of `params`). */
  trainableParams?(cfg: SaeConfig, phase: 'train' | 'finetune', trainer: TrainerSettings): readonly string[];
  /** Before the forward pass (v1.5: decoder rows to unit norm). */
  beforeStep?(cfg: SaeConfig, vars: Readonly<Record<string, tf.Variable>>): void;
  /** After clipping, before the optimizer (v1.5: project out the decoder-parallel gradient). Inside a tidy. */
  adjustGrads?(cfg: SaeConfig, vars: Readonly<Record<string, tf.Variable>>, grads: Record<string, tf.Tensor>): void;
  /** After the optimizer, with the forward pass's `stats` read back (e.g. a threshold EMA). */
  afterStep?(cfg: SaeConfig, state: ArchState, stats: Readonly<Record<string, number>>): void;
  /** What SAELens saves for inference, from the trained weights and state. */
  toInference(cfg: SaeConfig, weights: Readonly<Record<string, Float32Array>>, state: Readonly<ArchState>): InferenceSave;
}
