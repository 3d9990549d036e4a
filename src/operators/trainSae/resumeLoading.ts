import type { CheckpointState } from '../../train/checkpointWriter.js';
import { readCheckpointState } from '../folderIo.js';

/** Reads the training state of each SAE's checkpoint folder (SAE id → folder), in parallel. */
export async function loadResumeStates(dirs: Readonly<Record<string, string>>): Promise<ReadonlyMap<string, CheckpointState>> {
  const entries = await Promise.all(Object.entries(dirs).map(async ([id, dir]) => [id, await readCheckpointState(dir)] as const));
  return new Map(entries);
}
