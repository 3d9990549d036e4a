/**
 * SAELens v1.5.0's `SAEToyModelRunnerConfig` (training/toy_model_runner.py): train Anthropic's
 * ReLU toy model of superposition, then an SAE on its hidden layer (d_in = n_hidden).
 *
 * SAELens builds its SparseAutoencoder straight from this config, which lacks the SAE fields the
 * SAE reads (lp_norm, activation_fn, …), and trains the toy model with `Model.optimize`'s
 * defaults. sae-rx makes those explicit fields with the same defaults: the SAE fields default
 * as in the language-model runner; model_batch_size (1024) and model_lr (1e-3) are optimize()'s
 * defaults; feature_importance_decay null means importance 1 for every feature (SAELens passes
 * none), a number r gives feature i importance r^i; adam_beta1 0.9 / adam_beta2 0.999 are
 * torch.optim.Adam's defaults, which SAELens's toy trainer uses.
 */
import {
  Bool, Int, NonEmptyStr, NonNegativeInt, NonNegativeNum, PositiveInt, PositiveNum, Probability, UnitInterval,
  nullable, oneOf,
} from './codecs.js';
import { type ConfigProblem, type FieldTable, RunnerConfigError, decodeFields, isPlainObject } from './fields.js';
import { takeArchitectureFields } from './architectureFields.js';
import { ACTIVATION_FNS, B_DEC_INIT_METHODS, LANGUAGE_MODEL_FIELDS, decoderNormProblems } from './languageModelRunnerConfig.js';

export interface ToyModelRunnerConfig {
  /** The SAE architecture (absent: 'standard', SAELens v1.5's); its own fields sit beside. */
  architecture?: string;
  // ReLU toy model
  n_features: number;
  n_hidden: number;
  n_correlated_pairs: number;
  n_anticorrelated_pairs: number;
  feature_probability: number;
  model_training_steps: number;
  model_batch_size: number;
  model_lr: number;
  feature_importance_decay: number | null;
  // SAE
  d_sae: number;
  activation_fn: (typeof ACTIVATION_FNS)[number];
  normalize_sae_decoder: boolean;
  apply_b_dec_to_input: boolean;
  lp_norm: number;
  noise_scale: number;
  mse_loss_normalization: 'dense_batch' | null;
  decoder_orthogonal_init: boolean;
  decoder_heuristic_init: boolean;
  init_encoder_as_decoder_transpose: boolean;
  scale_sparsity_penalty_by_decoder_norm: boolean;
  // Training
  l1_coefficient: number;
  lr: number;
  adam_beta1: number;
  adam_beta2: number;
  train_batch_size: number;
  b_dec_init_method: (typeof B_DEC_INIT_METHODS)[number];
  use_ghost_grads: boolean;
  feature_sampling_window: number;
  dead_feature_window: number;
  dead_feature_threshold: number;
  total_training_tokens: number;
  // W&B
  log_to_wandb: boolean;
  wandb_project: string;
  wandb_entity: string | null;
  wandb_log_frequency: number;
  // Misc
  device: string;
  seed: number;
  checkpoint_path: string;
  dtype: 'float32';
  // Derived
  /** = n_hidden: the toy model's hidden layer is the SAE's input. */
  d_in: number;
}

const lm = LANGUAGE_MODEL_FIELDS;

export const TOY_MODEL_FIELDS: FieldTable = {
  n_features: { codec: PositiveInt, default: 5 },
  n_hidden: { codec: PositiveInt, default: 2 },
  n_correlated_pairs: { codec: NonNegativeInt, default: 0 },
  n_anticorrelated_pairs: { codec: NonNegativeInt, default: 0 },
  feature_probability: { codec: Probability, default: 0.025 },
  model_training_steps: { codec: NonNegativeInt, default: 10_000 },
  model_batch_size: { codec: PositiveInt, default: 1024 },
  model_lr: { codec: PositiveNum, default: 1e-3 },
  feature_importance_decay: { codec: nullable(PositiveNum), default: null },
  d_sae: { codec: PositiveInt, default: 5 },
  activation_fn: { codec: oneOf(ACTIVATION_FNS), default: 'relu' },
  normalize_sae_decoder: lm.normalize_sae_decoder!,
  apply_b_dec_to_input: lm.apply_b_dec_to_input!,
  lp_norm: { codec: PositiveNum, default: 1 },
  noise_scale: lm.noise_scale!,
  mse_loss_normalization: lm.mse_loss_normalization!,
  decoder_orthogonal_init: lm.decoder_orthogonal_init!,
  decoder_heuristic_init: lm.decoder_heuristic_init!,
  init_encoder_as_decoder_transpose: lm.init_encoder_as_decoder_transpose!,
  scale_sparsity_penalty_by_decoder_norm: lm.scale_sparsity_penalty_by_decoder_norm!,
  l1_coefficient: { codec: NonNegativeNum, default: 1e-3 },
  lr: { codec: PositiveNum, default: 3e-4 },
  adam_beta1: { codec: UnitInterval, default: 0.9 },
  adam_beta2: { codec: UnitInterval, default: 0.999 },
  train_batch_size: { codec: PositiveInt, default: 1024 },
  b_dec_init_method: { codec: oneOf(B_DEC_INIT_METHODS), default: 'geometric_median' },
  use_ghost_grads: { codec: Bool, default: false },
  feature_sampling_window: { codec: PositiveInt, default: 100 },
  dead_feature_window: { codec: PositiveInt, default: 100 },
  dead_feature_threshold: { codec: NonNegativeNum, default: 1e-8 },
  total_training_tokens: { codec: PositiveInt, default: 25_000 },
  log_to_wandb: { codec: Bool, default: true },
  wandb_project: { codec: NonEmptyStr, default: 'mats_sae_training_toy_model' },
  wandb_entity: { codec: nullable(NonEmptyStr), default: null },
  wandb_log_frequency: { codec: PositiveInt, default: 50 },
  device: lm.device!,
  seed: { codec: Int, default: 42 },
  checkpoint_path: { codec: NonEmptyStr, default: 'checkpoints' },
  dtype: lm.dtype!,
};

/** Decodes a toy-model runner config; throws a RunnerConfigError listing every problem. */
export function decodeToyModelRunnerConfig(raw: unknown): ToyModelRunnerConfig {
  const what = 'toy-model runner config';
  if (!isPlainObject(raw)) {
    throw new RunnerConfigError(what, [{ path: '(root)', message: `expected an object of settings, got ${raw === null ? 'null' : typeof raw}` }]);
  }
  const arch = takeArchitectureFields(raw, TOY_MODEL_FIELDS);
  const { values: v, problems } = decodeFields(arch.rest, TOY_MODEL_FIELDS, ['d_in']);
  problems.unshift(...arch.problems);
  Object.assign(v, arch.values);
  if (problems.length === 0) {
    const p: ConfigProblem[] = [];
    const paired = 2 * ((v.n_correlated_pairs as number) + (v.n_anticorrelated_pairs as number));
    if (paired > (v.n_features as number)) {
      p.push({
        path: 'n_correlated_pairs / n_anticorrelated_pairs',
        message: `2 × (${v.n_correlated_pairs as number} + ${v.n_anticorrelated_pairs as number}) = ${paired} paired features exceed n_features ${v.n_features as number}`,
      });
    }
    p.push(...decoderNormProblems(v));
    if (raw.d_in !== undefined && raw.d_in !== v.n_hidden) {
      p.push({ path: 'd_in', message: `d_in is n_hidden (${v.n_hidden as number}) for the toy model, got ${JSON.stringify(raw.d_in)}` });
    }
    problems.push(...p);
  }
  if (problems.length > 0) throw new RunnerConfigError(what, problems);
  v.d_in = v.n_hidden;
  return v as unknown as ToyModelRunnerConfig;
}
