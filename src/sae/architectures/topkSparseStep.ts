/**
 * Where the TopK family (`topk`, `batchtopk`, `matryoshka_batchtopk`) trains on the sparse step
 * of src/sae/topkSparse.ts instead of its dense forward: the selection, decode and gradients
 * touch only the kept latents, and no [batch, d_sae] tensor exists (the trainer then reads the
 * fired counts, not dense feature activations). The dense forward stays the reference and runs
 * wherever this does not apply.
 *
 * Chosen per step from the trainer's sparse-step mode (SaeTrainer option `sparseStep`, else
 * `SAE_RX_SPARSE_STEP`): 'never' dense; 'always' sparse; 'auto' sparse when k/d_sae ≤
 * AUTO_MAX_DENSITY. Always dense without the native kernels, with mse_loss_normalization
 * 'dense_batch', or with `use_matryoshka_aux_loss` (per-level AuxK is not in the sparse step).
 */
import * as tf from '@tensorflow/tfjs-core';
import { topkKernelsAvailable } from '../../backend/index.js';
import type { SaeConfig } from '../SaeConfig.js';
import { AUTO_MAX_DENSITY, sparseStepMode, type SparseStepMode } from '../sparse.js';
import { topkFamilyForward } from '../topkSparse.js';
import type { ParamTensors, TrainingForwardOutput, TrainingStepInput } from './Architecture.js';
import { baseTensors, field } from './saelens6Base.js';

/** Whether the sparse step runs for this architecture, config and mode (see the file comment). */
export function topkSparseStepApplies(cfg: SaeConfig, mode: SparseStepMode = sparseStepMode()): boolean {
  if (mode === 'never' || cfg.mseLossNormalization === 'dense_batch') return false;
  if (cfg.architecture === 'matryoshka_batchtopk' && field<boolean>(cfg, 'use_matryoshka_aux_loss')) return false;
  if (!topkKernelsAvailable()) return false;
  return mode === 'always' || field<number>(cfg, 'k') / cfg.dSae <= AUTO_MAX_DENSITY;
}

/**
 * The sparse training forward under the dense forward's loss names (mse_loss,
 * auxiliary_reconstruction_loss, inner_mse_loss_<w>), with firedCounts instead of featureActs,
 * and min_positive_act for BatchTopK's threshold (+Infinity when nothing fired, as the dense one).
 */
export function topkSparseTrainingForward(
  cfg: SaeConfig, p: ParamTensors, s: TrainingStepInput, selection: 'topk' | 'batchtopk', innerWidths: readonly number[] = [],
): TrainingForwardOutput {
  const f = topkFamilyForward(baseTensors(p), s.x, {
    k: field<number>(cfg, 'k'),
    selection,
    rescaleActsByDecoderNorm: field<boolean>(cfg, 'rescale_acts_by_decoder_norm'),
    applyBDecToInput: cfg.applyBDecToInput,
    deadIdx: s.deadIdx,
    auxLossCoefficient: field<number>(cfg, 'aux_loss_coefficient'),
    matryoshkaInnerWidths: innerWidths,
    ...(s.target !== undefined ? { target: s.target } : {}),
  });
  const losses: Record<string, tf.Scalar> = { mse_loss: f.mse, auxiliary_reconstruction_loss: f.auxiliaryReconstruction };
  for (const [w, l] of f.innerMse) losses[`inner_mse_loss_${w}`] = l;
  return {
    losses,
    loss: f.loss,
    saeOut: f.saeOut,
    perTokenL2: f.perTokenMse,
    firedCounts: tf.tensor1d(f.fired.counts),
    ...(selection === 'batchtopk' ? { stats: { min_positive_act: tf.scalar(f.fired.nnz > 0 ? f.fired.minActivation : Infinity) } } : {}),
  };
}
