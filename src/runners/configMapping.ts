/**
 * The one place that maps SAELens's snake_case runner fields onto the camelCase option objects
 * of the TypeScript API (DESIGN.md §8): SaeConfig for the SAE, TrainerConfig for the trainer.
 */
import { ConfigError } from '../errors.js';
import { redactSecrets } from '../config/secrets.js';
import type { SaeConfig } from '../sae/SaeConfig.js';
import { architectureOf } from '../sae/architectures/registry.js';
import type { TrainerConfig } from '../train/TrainerConfig.js';
import type { SingleLanguageModelSaeRunnerConfig } from '../config/sweep.js';
import type { ToyModelRunnerConfig } from '../config/toyModelRunnerConfig.js';

type SingleConfig = SingleLanguageModelSaeRunnerConfig | ToyModelRunnerConfig;

const isToy = (c: SingleConfig): c is ToyModelRunnerConfig => 'n_features' in c;

function assertSingle(c: SingleConfig, fn: string): void {
  const swept = Object.entries(c).filter(([k, v]) => Array.isArray(v) && k !== 'model_kwargs' && k !== 'matryoshka_widths');
  if (swept.length > 0) {
    throw new ConfigError(
      `${fn}: ${swept.map(([k]) => k).join(', ')} ${swept.length === 1 ? 'is a list' : 'are lists'} (a sweep); ` +
        'call expandSweep(cfg) and map each single config',
    );
  }
}

/** Runner fields a SAELens 6 standard SAE reads as its own (v1.5's l1 settings). */
const STANDARD_V6_RUNNER_FIELDS = ['l1_coefficient', 'lp_norm', 'l1_warm_up_steps'] as const;

/**
 * The architecture name and its own fields of a decoded runner config (the v1.5 standard SAE:
 * 'standard', none). The other architectures take the v1.5 SAE's settings at what SAELens 6
 * does (ReLU, no decoder normalisation, b_dec zeros, no noise, no ghost grads).
 */
function architectureOfConfig(c: SingleConfig): { name: string; fields: Record<string, unknown> } {
  const name = (c as { architecture?: string }).architecture ?? 'standard';
  if (name === 'standard') return { name, fields: {} };
  const raw = c as unknown as Record<string, unknown>;
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(architectureOf(name).fields)) if (k in raw) fields[k] = raw[k];
  if (name === 'standard_v6') for (const k of STANDARD_V6_RUNNER_FIELDS) fields[k] = raw[k];
  return { name, fields };
}

/** The SAE's config from one SAE's runner config (an expandSweep element, or a toy config). */
export function toSaeConfig(c: SingleConfig): SaeConfig {
  assertSingle(c, 'toSaeConfig');
  const arch = architectureOfConfig(c);
  const v15 = arch.name === 'standard';
  const common = {
    architecture: arch.name,
    ...(v15 ? {} : { archFields: arch.fields }),
    dIn: c.d_in,
    dSae: c.d_sae,
    activationFn: v15 ? c.activation_fn : 'relu',
    applyBDecToInput: c.apply_b_dec_to_input,
    normalizeSaeDecoder: v15 && c.normalize_sae_decoder,
    decoderOrthogonalInit: v15 && c.decoder_orthogonal_init,
    decoderHeuristicInit: v15 && c.decoder_heuristic_init,
    initEncoderAsDecoderTranspose: v15 && c.init_encoder_as_decoder_transpose,
    bDecInitMethod: v15 ? c.b_dec_init_method : 'zeros',
    noiseScale: v15 ? c.noise_scale : 0,
    mseLossNormalization: c.mse_loss_normalization,
    lpNorm: c.lp_norm,
    scaleSparsityPenaltyByDecoderNorm: v15 && c.scale_sparsity_penalty_by_decoder_norm,
    useGhostGrads: v15 && c.use_ghost_grads,
    dtype: 'float32' as const,
    seed: c.seed,
  };
  if (isToy(c)) {
    return { ...common, modelName: 'toy_model', hookPoint: 'hook_hidden', hookPointLayer: 0, hookPointHeadIndex: null, contextSize: 1, prependBos: false };
  }
  return {
    ...common,
    modelName: c.model_name,
    hookPoint: c.hook_point,
    hookPointLayer: c.hook_point_layer,
    hookPointHeadIndex: c.hook_point_head_index,
    // transcoders: the output side (the decoder only keeps these fields for transcoder architectures)
    ...(c.hook_name_out !== undefined
      ? {
        dOut: c.d_out!,
        hookPointOut: c.hook_name_out,
        hookPointOutLayer: c.hook_layer_out ?? c.hook_point_layer,
        hookPointOutHeadIndex: c.hook_head_index_out ?? null,
      }
      : {}),
    contextSize: c.context_size,
    prependBos: c.prepend_bos,
  };
}

/** The trainer's config from one SAE's runner config (an expandSweep element, or a toy config). */
export function toTrainerConfig(c: SingleConfig): TrainerConfig {
  assertSingle(c, 'toTrainerConfig');
  if (isToy(c)) {
    return {
      lr: c.lr,
      lrSchedulerName: 'constant',
      lrWarmUpSteps: 0,
      lrEnd: null,
      lrDecaySteps: 0,
      nRestartCycles: 1,
      adamBeta1: c.adam_beta1,
      adamBeta2: c.adam_beta2,
      l1Coefficient: c.l1_coefficient,
      l1WarmUpSteps: 0,
      trainBatchSize: c.train_batch_size,
      totalTrainingSteps: Math.floor(c.total_training_tokens / c.train_batch_size),
      featureSamplingWindow: c.feature_sampling_window,
      deadFeatureWindow: c.dead_feature_window,
      deadFeatureThreshold: c.dead_feature_threshold,
      useGhostGrads: c.use_ghost_grads,
      finetuningMethod: null,
      finetuningSteps: 0,
      trainingTokens: c.total_training_tokens,
      finetuningTokens: 0,
      wandbLogFrequency: c.wandb_log_frequency,
    };
  }
  const tbs = c.train_batch_size;
  const trainSteps = Math.floor(c.training_tokens / tbs);
  return {
    lr: c.lr,
    lrSchedulerName: c.lr_scheduler_name,
    lrWarmUpSteps: c.lr_warm_up_steps,
    lrEnd: c.lr_end,
    lrDecaySteps: c.lr_decay_steps,
    nRestartCycles: c.n_restart_cycles,
    adamBeta1: c.adam_beta1,
    adamBeta2: c.adam_beta2,
    l1Coefficient: c.l1_coefficient,
    l1WarmUpSteps: c.l1_warm_up_steps,
    trainBatchSize: tbs,
    totalTrainingSteps: trainSteps,
    featureSamplingWindow: c.feature_sampling_window,
    deadFeatureWindow: c.dead_feature_window,
    deadFeatureThreshold: c.dead_feature_threshold,
    useGhostGrads: c.use_ghost_grads,
    finetuningMethod: c.finetuning_method,
    // So that training + fine-tuning steps = SAELens's (training + finetuning tokens) // batch.
    finetuningSteps: Math.floor((c.training_tokens + c.finetuning_tokens) / tbs) - trainSteps,
    trainingTokens: c.training_tokens,
    finetuningTokens: c.finetuning_tokens,
    wandbLogFrequency: c.wandb_log_frequency,
    evalEveryNWandbLogs: c.eval_every_n_wandb_logs,
    nCheckpoints: c.n_checkpoints,
  };
}

/**
 * The runner config as the SAE's `runnerFields` (written into its cfg.json, as SAELens v1.5's
 * `save_model` dumps its runner config): every field, secrets masked.
 */
export function toRunnerFields(c: SingleConfig): Readonly<Record<string, unknown>> {
  return redactSecrets({ ...c } as Record<string, unknown>);
}
