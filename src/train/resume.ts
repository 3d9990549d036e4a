/**
 * Resuming training (DESIGN.md §3.5, §6): find the newest checkpoint that is complete, and
 * where the data stream must continue.
 *
 * `trainSae` writes checkpoints as `<checkpointPath>/<saeId>/<tokens>` (and the final SAE as
 * `final_<tokens>`), each built under a hidden temporary name (`.<name>.tmp-…`) and renamed
 * when complete (io/atomicWrite). So a folder is only a candidate when its name is not hidden
 * and it holds every file of a checkpoint with a training state that parses; a crash mid-write
 * leaves a temporary folder, which is never picked.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { SAE_CFG_PATH, SAE_WEIGHTS_PATH } from '../sae/saeFolder.js';
import { TRAINING_STATE_JSON, TRAINING_STATE_TENSORS } from './checkpointWriter.js';

/** Files a checkpoint folder must hold (the SAE folder's + the training state). */
export const CHECKPOINT_FILES = [SAE_CFG_PATH, SAE_WEIGHTS_PATH, TRAINING_STATE_JSON, TRAINING_STATE_TENSORS] as const;

export interface FoundCheckpoint {
  readonly path: string;
  /** Steps the checkpoint's trainer had done. */
  readonly step: number;
  /** Activation rows trained on. */
  readonly tokens: number;
  /** The final SAE of a run (`final_<tokens>`), not an intermediate checkpoint. */
  readonly final: boolean;
  /** training_state.json's `data` (batchesConsumed, …). */
  readonly data: Readonly<Record<string, number>>;
}

const NAME = /^(final_)?(\d+)$/;

/** Whether `dir` is a complete checkpoint folder; its summary if so, else null (never throws for a bad folder). */
export async function inspectCheckpoint(dir: string): Promise<FoundCheckpoint | null> {
  const m = NAME.exec(path.basename(dir));
  if (!m) return null;
  try {
    for (const f of CHECKPOINT_FILES) {
      const st = await fsp.stat(path.join(dir, f));
      if (!st.isFile() || st.size === 0) return null;
    }
    const json = JSON.parse(await fsp.readFile(path.join(dir, TRAINING_STATE_JSON), 'utf8')) as { step?: unknown; tokens?: unknown; data?: unknown };
    if (typeof json.step !== 'number' || typeof json.tokens !== 'number') return null;
    return {
      path: dir,
      step: json.step,
      tokens: json.tokens,
      final: m[1] !== undefined,
      data: (json.data && typeof json.data === 'object' ? json.data : {}) as Record<string, number>,
    };
  } catch {
    return null;
  }
}

/**
 * The newest complete checkpoint under `dir` (a `<checkpointPath>/<saeId>` folder): the one
 * with the most steps (ties: the final SAE, then the later name). Hidden names (temporary
 * folders of unfinished writes) and incomplete folders are skipped. Null when there is none.
 */
export async function findLatestCheckpoint(dir: string, opts: { includeFinal?: boolean } = {}): Promise<FoundCheckpoint | null> {
  const includeFinal = opts.includeFinal ?? true;
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let best: FoundCheckpoint | null = null;
  for (const name of names) {
    if (name.startsWith('.') || !NAME.test(name)) continue;
    const c = await inspectCheckpoint(path.join(dir, name));
    if (!c || (c.final && !includeFinal)) continue;
    if (!best || c.step > best.step || (c.step === best.step && (c.final && !best.final || c.tokens > best.tokens))) best = c;
  }
  return best;
}

/** Where the data stream continues after a checkpoint. */
export interface DataPosition {
  /** Train batches the checkpoint already consumed: skip that many on a deterministic live source. */
  readonly batchesConsumed: number;
  /** Activation rows consumed (batches × train batch size): the row to start at in a cache. */
  readonly rows: number;
}

/**
 * The data position recorded in a checkpoint's training state: `data.batchesConsumed` (which
 * `trainSae` writes; the step count when absent) and the rows consumed (its token count, else
 * batches × `trainBatchSize`).
 */
export function dataPosition(
  ck: { readonly step: number; readonly tokens?: number; readonly data: Readonly<Record<string, number>> },
  trainBatchSize: number,
): DataPosition {
  if (!Number.isInteger(trainBatchSize) || trainBatchSize < 1) throw new ConfigError(`dataPosition(): trainBatchSize must be a positive integer, got ${trainBatchSize}`);
  const batchesConsumed = ck.data['batchesConsumed'] ?? ck.step;
  // the checkpoint's token count is the rows trained on (a short last batch included)
  return { batchesConsumed, rows: ck.tokens ?? batchesConsumed * trainBatchSize };
}
