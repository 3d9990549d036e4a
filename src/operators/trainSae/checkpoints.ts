import { platform } from '../../platform/index.js';
import type { CheckpointContent, SaeFolderWriter } from '../../train/checkpointWriter.js';
import { type NormFactors, definedFactors } from '../../train/normFactors.js';
import { writeCheckpoint } from '../folderIo.js';
import type { Slot } from './slots.js';

/** Why a checkpoint is written: SAELens's n_checkpoints, the end of training, or a signal. */
export type CheckpointKind = 'checkpoint' | 'final' | 'interrupt';

/** What a checkpoint of `s` holds now (a snapshot: plain arrays, no tensors). */
export function slotCheckpoint(s: Slot, norm: NormFactors): CheckpointContent {
  const step = s.trainer!.stepCount;
  return {
    saeId: s.id,
    snapshot: s.sae!.snapshot(),
    trainerState: s.trainer!.state(),
    tokens: s.tokens,
    sparsity: s.trainer!.featureSparsity(),
    ...definedFactors(norm),
    data: { batchesConsumed: step },
  };
}

/** The folder of a checkpoint: `<checkpointPath>/<saeId>/<tokens>`, `final_<tokens>` for the final SAE. */
export function checkpointDir(checkpointPath: string, s: Slot, kind: CheckpointKind): string {
  return platform.path.join(checkpointPath, s.id, kind === 'final' ? `final_${s.tokens}` : String(s.tokens));
}

/**
 * Writes a checkpoint of `s` to `dir` now, synchronously (atomic: temporary folder, fsync,
 * rename): when this returns it is on disk, whatever the pipeline does next — a stream that
 * never yields to the event loop, a process killed a moment later.
 */
export function writeSlotCheckpoint(dir: string, s: Slot, norm: NormFactors, writer?: SaeFolderWriter): void {
  writeCheckpoint(dir, slotCheckpoint(s, norm), writer);
}
