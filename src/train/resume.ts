/**
 * Resuming training (DESIGN.md §3.5, §6): the one place that decides which checkpoint a run
 * continues from, and where the data stream must continue.
 *
 * `trainSae` writes checkpoints as `<checkpointPath>/<saeId>/<tokens>` (and the final SAE as
 * `final_<tokens>`), each built under a hidden temporary name (`.<name>.tmp-…`) and renamed
 * when complete (io/atomicWrite). A folder is a candidate only when its name is not hidden,
 * it holds every file of a checkpoint, both safetensors headers are sound and its training
 * state passes `validateTrainingState` (folder name = tokens held, counters ≥ 0, not past the
 * run's end). A damaged newest checkpoint is skipped, with the reason, for the newest valid one.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, FileFormatError } from '../errors.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { SAE_CFG_PATH, SAE_WEIGHTS_PATH } from '../sae/saeFolder.js';
import { TRAINING_STATE_JSON, TRAINING_STATE_TENSORS } from './checkpointWriter.js';
import { validateTrainingState } from './checkpointValidation.js';

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

/** A folder that looks like a checkpoint by name but cannot be resumed from, and why. */
export interface DamagedCheckpoint {
  readonly path: string;
  readonly problem: string;
}

export interface CheckOptions {
  /** Steps the run trains in all: an intermediate checkpoint at or past it, or a final one past it, is not of this run. */
  readonly totalSteps?: number;
}

const NAME = /^(final_)?(\d+)$/;
/** What io/atomicWrite leaves beside a target when a process dies mid-write. */
const LEFTOVER = /^\..+\.(tmp|old)-\d+-[0-9a-f]+$/;

async function checkHeader(file: string, required: readonly string[] = []): Promise<void> {
  const f = await SafetensorsFile.open(file);
  try {
    for (const name of required) f.info(name);
  } finally {
    await f.close();
  }
}

/**
 * Checks the checkpoint folder `dir`: its summary when it can be resumed from, else what is
 * wrong with it (never throws for a bad folder).
 */
export async function checkCheckpoint(dir: string, opts: CheckOptions = {}): Promise<FoundCheckpoint | DamagedCheckpoint> {
  const damaged = (problem: string): DamagedCheckpoint => ({ path: dir, problem });
  const m = NAME.exec(path.basename(dir));
  if (!m) return damaged('not a checkpoint name (<tokens> or final_<tokens>)');
  const final = m[1] !== undefined;
  try {
    for (const f of CHECKPOINT_FILES) {
      const st = await fsp.stat(path.join(dir, f)).catch(() => null);
      if (!st) return damaged(`${f} is missing`);
      if (!st.isFile()) return damaged(`${f} is not a file`);
      if (st.size === 0) return damaged(`${f} is empty`);
    }
    const jsonPath = path.join(dir, TRAINING_STATE_JSON);
    let raw: unknown;
    try {
      raw = JSON.parse(await fsp.readFile(jsonPath, 'utf8'));
    } catch (e) {
      return damaged(`${TRAINING_STATE_JSON} is not JSON (${(e as Error).message})`);
    }
    const state = validateTrainingState(raw, jsonPath, Number(m[2]));
    const total = opts.totalSteps;
    if (total !== undefined && (final ? state.step > total : state.step >= total))
      return damaged(`it is at step ${state.step}, past the ${total} steps this run trains`);
    await checkHeader(path.join(dir, SAE_WEIGHTS_PATH));
    await checkHeader(path.join(dir, TRAINING_STATE_TENSORS), [
      'steps_since_fired',
      'act_freq_scores',
      ...Object.keys(state.adam.steps).flatMap((n) => [`adam.${n}.m`, `adam.${n}.v`]),
    ]);
    return { path: dir, step: state.step, tokens: state.tokens, final, data: state.data };
  } catch (e) {
    return damaged(e instanceof FileFormatError ? e.message : `unreadable (${(e as Error).message})`);
  }
}

const isFound = (c: FoundCheckpoint | DamagedCheckpoint): c is FoundCheckpoint => !('problem' in c);

/** Whether `dir` is a complete checkpoint folder; its summary if so, else null (never throws for a bad folder). */
export async function inspectCheckpoint(dir: string, opts: CheckOptions = {}): Promise<FoundCheckpoint | null> {
  const c = await checkCheckpoint(dir, opts);
  return isFound(c) ? c : null;
}

export interface SaeCheckpoints {
  /** Checkpoints that can be resumed from, newest first (most steps; ties: the final SAE, then more tokens). */
  readonly valid: readonly FoundCheckpoint[];
  /** Folders named like checkpoints that cannot be resumed from. */
  readonly damaged: readonly DamagedCheckpoint[];
  /** Temporary folders of writes a killed process left (`.<name>.tmp-…`, `.<name>.old-…`). */
  readonly leftovers: readonly string[];
}

/** Every checkpoint folder under `dir` (a `<checkpointPath>/<saeId>` folder), checked. */
export async function listCheckpoints(dir: string, opts: CheckOptions = {}): Promise<SaeCheckpoints> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { valid: [], damaged: [], leftovers: [] };
    throw e;
  }
  const valid: FoundCheckpoint[] = [];
  const damaged: DamagedCheckpoint[] = [];
  const leftovers: string[] = [];
  for (const name of names.sort()) {
    if (LEFTOVER.test(name)) leftovers.push(path.join(dir, name));
    if (name.startsWith('.') || !NAME.test(name)) continue;
    const c = await checkCheckpoint(path.join(dir, name), opts);
    if (isFound(c)) valid.push(c);
    else damaged.push(c);
  }
  valid.sort((a, b) => b.step - a.step || Number(b.final) - Number(a.final) || b.tokens - a.tokens);
  return { valid, damaged, leftovers };
}

/**
 * The newest complete checkpoint under `dir` (a `<checkpointPath>/<saeId>` folder): the one
 * with the most steps (ties: the final SAE, then the later name). Hidden names (temporary
 * folders of unfinished writes) and damaged folders are skipped. Null when there is none.
 */
export async function findLatestCheckpoint(dir: string, opts: CheckOptions & { includeFinal?: boolean } = {}): Promise<FoundCheckpoint | null> {
  const includeFinal = opts.includeFinal ?? true;
  return (await listCheckpoints(dir, opts)).valid.find((c) => includeFinal || !c.final) ?? null;
}

/** Where a resumed run continues: a checkpoint folder per SAE, all at the same step. */
export interface ResumePoint {
  readonly dirs: Readonly<Record<string, string>>;
  /** Train batches the checkpoints had consumed. */
  readonly batchesConsumed: number;
  readonly tokens: number;
}

export interface FindResumePointOptions {
  /** Steps each SAE trains in all (by SAE id, or one number for all): checkpoints past it are not of this run. */
  readonly totalSteps?: number | Readonly<Record<string, number>>;
  /** Told about each damaged checkpoint that was passed over. */
  readonly onDamaged?: (c: DamagedCheckpoint) => void;
}

/**
 * SAELens's `get_resume_checkpoint_path` for every SAE of a run: the newest checkpoint
 * (`<runDir>/<saeId>/<tokens>`) that every SAE has in a valid state (damaged ones are passed
 * over, and named to `onDamaged`). Undefined when there is none (SAELens then starts afresh);
 * a ConfigError when every SAE already has a valid `final_<tokens>` folder.
 */
export async function findResumePoint(runDir: string, saeIds: readonly string[], opts: FindResumePointOptions = {}): Promise<ResumePoint | undefined> {
  const totalOf = (id: string) => (typeof opts.totalSteps === 'number' ? opts.totalSteps : opts.totalSteps?.[id]);
  const perSae = await Promise.all(
    saeIds.map(async (id) => {
      const total = totalOf(id);
      return listCheckpoints(path.join(runDir, id), total !== undefined ? { totalSteps: total } : {});
    }),
  );
  for (const p of perSae) for (const d of p.damaged) opts.onDamaged?.(d);
  if (perSae.length > 0 && perSae.every((p) => p.valid.some((c) => c.final))) {
    throw new ConfigError(`resume: training in ${runDir} already finished (every SAE has a final_<tokens> folder)`);
  }
  const byTokens = perSae.map((p) => new Map(p.valid.filter((c) => !c.final).map((c) => [c.tokens, c])));
  const common = [...(byTokens[0]?.keys() ?? [])].filter((tok) => byTokens.every((m) => m.has(tok)));
  if (common.length === 0) return undefined;
  const tokens = Math.max(...common);
  const first = byTokens[0]!.get(tokens)!;
  const batchesConsumed = first.data['batchesConsumed'] ?? first.step;
  return { dirs: Object.fromEntries(saeIds.map((id, i) => [id, byTokens[i]!.get(tokens)!.path])), batchesConsumed, tokens };
}

/** Removes the temporary folders killed writes left under `<runDir>/<saeId>`; returns what was removed. */
export async function removeLeftoverWrites(runDir: string, saeIds: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const id of saeIds) {
    for (const p of (await listCheckpoints(path.join(runDir, id))).leftovers) {
      await fsp.rm(p, { recursive: true, force: true });
      removed.push(p);
    }
  }
  return removed;
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
