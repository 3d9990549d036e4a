/**
 * The reference runs' settings and weights as sae-rx objects, and the elementwise comparison:
 * no file access, so the browser numerics page (test/browser/page/) uses them too.
 */
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../../src/sae/SaeConfig.js';
import { DEFAULT_TRAINER_CONFIG, type TrainerConfig } from '../../src/train/TrainerConfig.js';

/** The reference script's snake_case cfg → SaeConfig. */
export function saeCfgFrom(c: Record<string, any>, dIn: number, dSae: number): SaeConfig {
  return {
    ...DEFAULT_SAE_CONFIG,
    dIn,
    dSae,
    activationFn: c['activation_fn'],
    applyBDecToInput: c['apply_b_dec_to_input'],
    mseLossNormalization: c['mse_loss_normalization'] ?? null,
    lpNorm: c['lp_norm'],
    scaleSparsityPenaltyByDecoderNorm: c['scale_sparsity_penalty_by_decoder_norm'],
    useGhostGrads: c['use_ghost_grads'],
    normalizeSaeDecoder: c['normalize_sae_decoder'],
    bDecInitMethod: 'zeros',
  };
}

/** The reference script's snake_case trainer settings (train.json runs) → TrainerConfig. */
export function trainerCfgFrom(t: Record<string, any>): TrainerConfig {
  return {
    ...DEFAULT_TRAINER_CONFIG,
    lr: t['lr'],
    lrSchedulerName: t['lr_scheduler_name'],
    lrWarmUpSteps: t['lr_warm_up_steps'],
    lrEnd: t['lr_end'],
    lrDecaySteps: t['lr_decay_steps'],
    nRestartCycles: t['n_restart_cycles'],
    adamBeta1: t['adam_beta1'],
    adamBeta2: t['adam_beta2'],
    l1Coefficient: t['l1_coefficient'],
    l1WarmUpSteps: t['l1_warm_up_steps'],
    trainBatchSize: t['train_batch_size'],
    totalTrainingSteps: t['total_training_steps'],
    featureSamplingWindow: t['feature_sampling_window'],
    deadFeatureWindow: t['dead_feature_window'],
    deadFeatureThreshold: t['dead_feature_threshold'],
    useGhostGrads: t['use_ghost_grads'],
    finetuningMethod: t['finetuning_method'],
    finetuningSteps: t['finetuning_steps'],
  };
}

/** The SAE of a train.json run with its `initial` (or `final`) weights. */
export function saeFromRun(run: any, dIn: number, dSae: number, which: 'initial' | 'final' = 'initial'): Sae {
  const w = run[which];
  return Sae.fromWeights(saeCfgFrom(run.cfg, dIn, dSae), {
    W_enc: Float32Array.from(w.W_enc),
    b_enc: Float32Array.from(w.b_enc),
    W_dec: Float32Array.from(w.W_dec),
    b_dec: Float32Array.from(w.b_dec),
    scalingFactor: Float32Array.from(w.scaling_factor),
  });
}

export interface Mismatch {
  index: number;
  got: number;
  want: number;
}

/**
 * Elementwise |got − want| ≤ rtol·|want| + atol·max|want|. Returns the worst offenders (empty
 * when all close) and the largest error relative to max|want|.
 */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol = rtol) {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
  const bad: Mismatch[] = [];
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    worst = Math.max(worst, maxAbs > 0 ? err / maxAbs : err);
    if (!(err <= rtol * Math.abs(want[i]!) + atol * maxAbs)) bad.push({ index: i, got: got[i]!, want: want[i]! });
  }
  return { ok: bad.length === 0, bad: bad.slice(0, 5), nBad: bad.length, worst };
}
