import { Sae } from '../../sae/Sae.js';
import { SaeTrainer } from '../../train/SaeTrainer.js';
import type { CheckpointState } from '../../train/checkpointWriter.js';
import type { TrainSaeSpec } from './options.js';

/** One SAE of a (sweep) trainSae subscription: its model, trainer and progress. */
export interface Slot {
  readonly id: string;
  readonly spec: TrainSaeSpec;
  sae: Sae | null;
  trainer: SaeTrainer | null;
  readonly totalSteps: number;
  /** Token counts still ahead at which a checkpoint is due (SAELens's n_checkpoints). */
  readonly thresholds: number[];
  /** The SAE's hook in a 3-D batch `[n, hooks, dIn]`, once seen. */
  hookIndex: number | undefined;
  tokens: number;
  steps: number;
  /** Continues a checkpoint (b_dec is not initialised again). */
  resumed: boolean;
  finished: boolean;
  finalPath?: string;
}

/**
 * SAELens's checkpoint token counts: range(0, total_tokens, total_tokens // n_checkpoints)[1:].
 */
export function checkpointThresholds(totalTokens: number, nCheckpoints: number): number[] {
  const thresholds: number[] = [];
  if (nCheckpoints > 0) {
    const every = Math.floor(totalTokens / nCheckpoints);
    if (every > 0) for (let t = every; t < totalTokens; t += every) thresholds.push(t);
  }
  return thresholds;
}

/**
 * The slot of one SAE: a fresh SAE and trainer, or the ones of its checkpoint (`resumed`).
 * Pushes it to `into` as soon as it holds tensors, so the caller frees it on a later throw.
 */
export function createSlot(into: Slot[], id: string, spec: TrainSaeSpec, nCheckpoints: number, ck: CheckpointState | undefined): Slot {
  const totalSteps = spec.trainer.totalTrainingSteps + spec.trainer.finetuningSteps;
  const thresholds = checkpointThresholds(totalSteps * spec.trainer.trainBatchSize, nCheckpoints);
  const slot: Slot = { id, spec, sae: null, trainer: null, totalSteps, thresholds, hookIndex: undefined, tokens: 0, steps: 0, resumed: false, finished: false };
  into.push(slot);
  if (ck) {
    slot.sae = Sae.fromWeights(spec.sae, ck.weights);
    slot.trainer = SaeTrainer.restore(slot.sae, spec.trainer, ck.trainerState);
    slot.tokens = ck.tokens;
    slot.steps = ck.trainerState.step;
    slot.resumed = true;
    while (thresholds.length > 0 && slot.tokens > thresholds[0]!) thresholds.shift();
  } else {
    slot.sae = Sae.create(spec.sae, { seed: spec.sae.seed });
    slot.trainer = new SaeTrainer(slot.sae, spec.trainer);
  }
  return slot;
}

/** Frees a slot's SAE and trainer (idempotent). */
export function freeSlot(s: Slot): void {
  s.trainer?.dispose();
  s.sae?.dispose();
  s.trainer = null;
  s.sae = null;
}
