import { ConfigError } from '../../errors.js';
import type { SaeConfig } from '../../sae/SaeConfig.js';
import type { SaeFolderWriter } from '../../train/checkpointWriter.js';
import { checkSaeFolderWritable } from '../../sae/saeFolderLayout.js';
import type { TrainerConfig } from '../../train/TrainerConfig.js';
import type { TrainSaeHandle } from './handle.js';
import { platform } from '../../platform/index.js';

/** One SAE to train: its own config, its trainer's config, and an id for records and folders. */
export interface TrainSaeSpec {
  readonly sae: SaeConfig;
  readonly trainer: TrainerConfig;
  /** Default: 'sae' for a single SAE, 'sae_<i>' in a sweep. Also the folder name. */
  readonly id?: string;
}

export interface TrainSaeOptions {
  /** Emit a step record every `logEvery` steps (and always for the last step). Default 1. */
  readonly logEvery?: number;
  /**
   * SAELens `n_checkpoints`: checkpoints after the steps whose token count passes
   * k·total/n (k = 1 … n−1), plus the final SAE. Default 0 (only the final SAE).
   */
  readonly nCheckpoints?: number;
  /**
   * Folder for checkpoints (`<path>/<saeId>/<tokens>`) and the final SAE
   * (`<path>/<saeId>/final_<tokens>`). Without it nothing is written (and SIGINT only stops).
   */
  readonly checkpointPath?: string;
  /** Batches whose rows initialise b_dec (geometric median / mean), as SAELens's store. Default 1. */
  readonly bDecInitBatches?: number;
  /** On SIGINT/SIGTERM: write a checkpoint of every SAE, error the stream, then exit. Default true. */
  readonly handleSignals?: boolean;
  /** After the interrupt checkpoint, re-raise the signal so the process exits. Default true. */
  readonly exitOnSignal?: boolean;
  /** Writes the SAE folder part of a checkpoint into a folder, synchronously (default: the SAE area's layout). */
  readonly writeSaeFolder?: SaeFolderWriter;
  /**
   * Keep training when a step's loss is NaN or ±Inf (warned once per SAE). Default false: the
   * stream errors, naming the SAE and the step (the checkpoints written before stay).
   */
  readonly allowNonFiniteLoss?: boolean;
  /**
   * Resume from checkpoints written by `trainSae` (`<checkpointPath>/<saeId>/<tokens>`): a map
   * from SAE id to checkpoint folder (a string for a single SAE). Weights, optimizer, schedules,
   * dead-feature counters and token counts continue where they were; b_dec is not
   * re-initialised. The stream must continue where that run's stream was (the checkpoint's
   * `training_state.json` records `data.batchesConsumed`), and `normalizeActivations` should be
   * given the recorded factor.
   */
  readonly resume?: string | Readonly<Record<string, string>>;
  /** Where loud warnings go besides the warning records (default: stderr). */
  readonly warn?: (message: string) => void;
  /**
   * Filled with the live SAEs while a subscription trains (`handle.saeOf(id)`), e.g. for
   * `evaluate`'s evals at SAELens's cadence. One handle per subscription.
   */
  readonly handle?: TrainSaeHandle;
}

/** The options with defaults filled and checked, the SAE ids, and the resume folders by SAE id. */
export interface ResolvedTrainSae {
  readonly specs: readonly TrainSaeSpec[];
  readonly ids: readonly string[];
  readonly logEvery: number;
  readonly nCheckpoints: number;
  readonly bDecInitBatches: number;
  readonly allowNonFiniteLoss: boolean;
  readonly resumeDirs: Readonly<Record<string, string>>;
  readonly warn: (message: string) => void;
}

/** Checks `trainSae`'s arguments up front (a ConfigError at pipeline construction, before any data). */
export function resolveTrainSaeOptions(specs: TrainSaeSpec | readonly TrainSaeSpec[], opts: TrainSaeOptions): ResolvedTrainSae {
  const list: readonly TrainSaeSpec[] = Array.isArray(specs) ? specs : [specs as TrainSaeSpec];
  const logEvery = opts.logEvery ?? 1;
  const nCheckpoints = opts.nCheckpoints ?? 0;
  const bDecInitBatches = opts.bDecInitBatches ?? 1;
  if (list.length === 0) throw new ConfigError('trainSae(): no SAE configs given');
  if (!Number.isInteger(logEvery) || logEvery < 1) throw new ConfigError(`trainSae(): logEvery must be a positive integer, got ${logEvery}`);
  if (!Number.isInteger(nCheckpoints) || nCheckpoints < 0) throw new ConfigError(`trainSae(): nCheckpoints must be an integer ≥ 0, got ${nCheckpoints}`);
  if (!Number.isInteger(bDecInitBatches) || bDecInitBatches < 1)
    throw new ConfigError(`trainSae(): bDecInitBatches must be a positive integer, got ${bDecInitBatches}`);
  const ids = list.map((s, i) => s.id ?? (list.length === 1 ? 'sae' : `sae_${i}`));
  if (new Set(ids).size !== ids.length) throw new ConfigError(`trainSae(): SAE ids must be unique, got ${ids.join(', ')}`);
  list.forEach((s, i) => {
    const total = s.trainer.totalTrainingSteps + s.trainer.finetuningSteps;
    if (!(Number.isInteger(total) && total >= 1)) throw new ConfigError(`trainSae(): SAE ${ids[i]} has ${total} steps to train; expected ≥ 1`);
    // an SAE no SAELens folder layout can hold is refused now, not after training
    if (opts.checkpointPath !== undefined && opts.writeSaeFolder === undefined) {
      try {
        checkSaeFolderWritable(s.sae);
      } catch (e) {
        throw new ConfigError(`trainSae(): SAE ${ids[i]}: ${(e as Error).message}`, { cause: e });
      }
    }
  });
  let resumeDirs: Record<string, string>;
  if (typeof opts.resume === 'string') {
    if (list.length !== 1) throw new ConfigError(`trainSae(): resume must map SAE ids to checkpoint folders for a sweep of ${list.length}`);
    resumeDirs = { [ids[0]!]: opts.resume };
  } else resumeDirs = { ...(opts.resume ?? {}) };
  for (const id of Object.keys(resumeDirs))
    if (!ids.includes(id)) throw new ConfigError(`trainSae(): resume names SAE '${id}', the SAEs are ${ids.join(', ')}`);
  const warn = opts.warn ?? ((m: string) => platform.warn(`sae-rx WARNING: ${m}`));
  return { specs: list, ids, logEvery, nCheckpoints, bDecInitBatches, allowNonFiniteLoss: opts.allowNonFiniteLoss ?? false, resumeDirs, warn };
}
