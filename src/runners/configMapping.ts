/**
 * The one place that maps SAELens's snake_case runner fields onto the camelCase option objects
 * of the TypeScript API (DESIGN.md §8): SaeConfig for the SAE, TrainerConfig for the trainer.
 */
import { ConfigError } from '../errors.js';
import type { SaeConfig } from '../sae/SaeConfig.js';
import type { TrainerConfig } from '../train/TrainerConfig.js';
import type { SingleLanguageModelSaeRunnerConfig } from '../config/sweep.js';
import type { ToyModelRunnerConfig } from '../config/toyModelRunnerConfig.js';

type SingleConfig = SingleLanguageModelSaeRunnerConfig | ToyModelRunnerConfig;

const isToy = (c: SingleConfig): c is ToyModelRunnerConfig => 'n_features' in c;

function assertSingle(c: SingleConfig, fn: string): void {
  const swept = Object.entries(c).filter(([k, v]) => Array.isArray(v) && k !== 'model_kwargs');
  if (swept.length > 0) {
    throw new ConfigError(
      `${fn}: ${swept.map(([k]) => k).join(', ')} ${swept.length === 1 ? 'is a list' : 'are lists'} (a sweep); ` +
        'call expandSweep(cfg) and map each single config',
    );
  }
}

/** The SAE's config from one SAE's runner config (an expandSweep element, or a toy config). */
export function toSaeConfig(c: SingleConfig): SaeConfig {
  assertSingle(c, 'toSaeConfig');
  const common = {
    architecture: 'standard' as const,
    dIn: c.d_in,
    dSae: c.d_sae,
    activationFn: c.activation_fn,
    applyBDecToInput: c.apply_b_dec_to_input,
    normalizeSaeDecoder: c.normalize_sae_decoder,
    decoderOrthogonalInit: c.decoder_orthogonal_init,
    decoderHeuristicInit: c.decoder_heuristic_init,
    initEncoderAsDecoderTranspose: c.init_encoder_as_decoder_transpose,
    bDecInitMethod: c.b_dec_init_method,
    noiseScale: c.noise_scale,
    mseLossNormalization: c.mse_loss_normalization,
    lpNorm: c.lp_norm,
    scaleSparsityPenaltyByDecoderNorm: c.scale_sparsity_penalty_by_decoder_norm,
    useGhostGrads: c.use_ghost_grads,
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
