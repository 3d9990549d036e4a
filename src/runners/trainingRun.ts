/**
 * What every runner shares once it has a stream of activations: the training tail
 * (mixing buffer → normalization → train batches → trainSae) and the run around it (sinks,
 * the run folder with config.json, records.jsonl and report.html, the summary).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Observable, defer, mergeMap, type Observer, type OperatorFunction } from 'rxjs';
import { type EvaluateOptions, evaluate } from '../operators/evaluate.js';
import { batch } from '../operators/batch.js';
import { mixingBuffer } from '../operators/mixingBuffer.js';
import { type NormalizeMethod, normalizeActivations } from '../operators/normalizeActivations.js';
import { TrainSaeHandle, type TrainSaeSpec, trainSae } from '../operators/trainSae.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { type ConsoleSinkOptions, consoleSink } from '../sinks/consoleSink.js';
import { jsonlSink } from '../sinks/jsonlSink.js';
import { skipBatches } from '../sources/cachedActivations.js';
import { writeReport } from '../sinks/report/writeReport.js';
import { sinks } from '../sinks/sinks.js';
import { type WandbSinkOptions, wandbSink } from '../sinks/wandb.js';
import { ConfigError } from '../errors.js';
import { type ResumePoint, findResumePoint, removeLeftoverWrites } from '../train/resume.js';
import type { StepRecord, TrainEvent } from '../stream/TrainEvent.js';

export interface TrainingTailOptions {
  /** The SAEs to train on the stream (a sweep: several, the stream is read once). */
  readonly specs: readonly TrainSaeSpec[];
  /** SAELens `n_batches_in_buffer`. */
  readonly batchesInBuffer: number;
  /** Rows per store batch (SAELens `store_batch_size × context_size`). */
  readonly storeBatchRows: number;
  readonly trainBatchSize: number;
  /** Seed of the mixing buffer's shuffles. */
  readonly seed: number;
  /** SAELens `normalize_activations` (default none). */
  readonly normalize?: NormalizeMethod;
  /** Folder of checkpoints and final SAEs (`<path>/<saeId>/…`); none: nothing is written. */
  readonly checkpointPath?: string;
  readonly nCheckpoints?: number;
  /** A step record every this many steps (default 1). */
  readonly logEvery?: number;
  /** Checkpoint on SIGINT/SIGTERM, then exit (default true). */
  readonly handleSignals?: boolean;
  /** Keep training when a step's loss is NaN/Inf (default false: the run fails naming the SAE and step). */
  readonly allowNonFiniteLoss?: boolean;
  /** Continue from checkpoints: SAE id → checkpoint folder (trainSae's `resume`). */
  readonly resume?: Readonly<Record<string, string>>;
  /**
   * Train batches to drop before trainSae (a resumed run replays its stream up to where the
   * checkpoint was taken: every stage is seeded, so the replay gives the same batches).
   */
  readonly skipTrainBatches?: number;
  /**
   * Evals of the live SAEs during training, at SAELens's cadence (after step s when
   * (s + 1) % (wandbLogFrequency × evalEveryNWandbLogs) == 0), on held-out tokens: `eval`
   * records follow the step records they belong to. None: no evals in the stream.
   */
  readonly evals?: Omit<EvaluateOptions, 'saeOf' | 'fromCheckpoints'>;
  /** Filled with the live SAEs while the stream trains (trainSae's `handle`); default: one of its own when `evals`. */
  readonly handle?: TrainSaeHandle;
}

/**
 * The training tail of every runner:
 * `mixingBuffer → normalizeActivations → batch(trainBatchSize) → [skip] → trainSae(specs)`.
 * The norm scaling factor (when asked) is estimated on the first half buffer of rows, as
 * SAELens estimates it on its first buffer.
 */
export function trainingTail(o: TrainingTailOptions): OperatorFunction<ActivationBatch, TrainEvent> {
  const halfBuffer = Math.floor(o.batchesInBuffer / 2) * o.storeBatchRows;
  // one handle per subscription: evaluate reads the SAEs of the trainSae it follows
  return (source) =>
    defer(() => {
      const handle = o.handle ?? (o.evals ? new TrainSaeHandle() : undefined);
      const events = source.pipe(
        mixingBuffer({ batchesInBuffer: o.batchesInBuffer, storeBatchSize: o.storeBatchRows, trainBatchSize: o.trainBatchSize, seed: o.seed }),
        normalizeActivations(o.normalize ?? 'none', { estimationTokens: Math.max(1, halfBuffer) }),
        batch(o.trainBatchSize),
        skipBatches(o.skipTrainBatches ?? 0),
        trainSae(o.specs, {
          ...(o.resume !== undefined && Object.keys(o.resume).length > 0 ? { resume: o.resume } : {}),
          ...(o.checkpointPath !== undefined ? { checkpointPath: o.checkpointPath } : {}),
          nCheckpoints: o.nCheckpoints ?? 0,
          logEvery: o.logEvery ?? 1,
          handleSignals: o.handleSignals ?? true,
          // warnings travel as records: the run's sinks print them once (console, or the CLI)
          warn: () => {},
          ...(o.allowNonFiniteLoss ? { allowNonFiniteLoss: true } : {}),
          ...(handle ? { handle } : {}),
        }),
      );
      // the final SAEs are evaluated by the runner (finalEvalBatches), not from their folders here
      return o.evals && handle ? events.pipe(evaluate({ ...o.evals, saeOf: handle.saeOf, fromCheckpoints: false })) : events;
    });
}

/** One SAE's outcome. */
export interface SaeRunSummary {
  readonly saeId: string;
  /** Folder of the final SAE (SAELens layout), when written. */
  readonly path?: string;
  readonly steps: number;
  readonly tokens: number;
  readonly first?: StepRecord;
  readonly last?: StepRecord;
  /** Metrics of the evals run on the final SAE, when asked (SAELens names: ce_loss_score, l0, …). */
  readonly evals?: Readonly<Record<string, number>>;
}

export interface RunSummary {
  /** Folder holding config.json, records.jsonl, report.html and the SAE folders. */
  readonly runDir: string;
  readonly saes: readonly SaeRunSummary[];
  /** Wall time of the whole run: set-up (model loading, toy-model training), training and writing. */
  readonly seconds: number;
  /**
   * Training throughput: activation rows trained per second from the first step record to the
   * last (each row counted once, however many SAEs; set-up excluded; on a language model the
   * forward passes that make the activations are included). The console's tokens/s is the same.
   */
  readonly tokensPerSecond: number;
  /** Seconds from the first step record to the last (what tokensPerSecond divides by). */
  readonly trainingSeconds: number;
  readonly reportPath?: string;
  readonly warnings: readonly string[];
}

export interface RunOptions {
  /** Folder of the run (default: the config's checkpoint_path). */
  readonly runDir?: string;
  /** Progress on stderr (default true); options for the console sink. */
  readonly console?: boolean | ConsoleSinkOptions;
  /** Write report.html at the end (default true). */
  readonly report?: boolean;
  /** Overrides of the W&B sink options (used only when the config logs to W&B). */
  readonly wandb?: Partial<WandbSinkOptions>;
  /** Further observers of the records. */
  readonly sinks?: readonly Partial<Observer<TrainEvent>>[];
  /** A step record every this many steps (default 1). */
  readonly logEvery?: number;
  /** Checkpoint on SIGINT/SIGTERM, then exit (default true). */
  readonly handleSignals?: boolean;
  /** Keep training when a step's loss is NaN/Inf (default false: the run fails, naming the SAE and step). */
  readonly allowNonFiniteLoss?: boolean;
  /**
   * Language models: filled with the live SAEs while the run trains (`handle.saeOf(id)`), for an
   * observer in `sinks` that reacts synchronously to a step record (tests compare them with the
   * saved folders). One run at a time.
   */
  readonly trainSaeHandle?: TrainSaeHandle;
  /** Progress messages of the runner itself (default: stderr). */
  readonly log?: (line: string) => void;
  /**
   * Language models: after training, run the evals (CE loss with the SAE spliced in, KL,
   * explained variance, L0, …) of each final SAE on this many store batches of the data that
   * follows what training read (default 0: none).
   */
  readonly finalEvalBatches?: number;
  /**
   * Continue the run in `runDir` from the latest checkpoint every SAE has there (SAELens's
   * `resume`; a language-model config's `resume: true` does the same). Starts afresh when
   * there is none; records.jsonl is continued.
   */
  readonly resume?: boolean;
}

export interface Runner<S extends RunSummary = RunSummary> {
  readonly runDir: string;
  /**
   * The training records. Cold: each subscription loads what it needs, trains and frees
   * everything on complete, error and unsubscribe. No sinks attached: bring your own.
   */
  readonly events$: Observable<TrainEvent>;
  /** Trains with the runner's sinks (console, records.jsonl, W&B when configured), writes config.json and the report. */
  run(): Promise<S>;
}

/** Subscribes `events$` with the standard sinks and resolves with the summary (rejects on error). */
export async function runWithSinks(
  events$: Observable<TrainEvent>,
  o: {
    runDir: string;
    config: Record<string, unknown>;
    totalSteps: number;
    title: string;
    wandb?: WandbSinkOptions | null;
    opts: RunOptions;
    /** After training: further records (e.g. evals of the final SAEs), added to records.jsonl before the report. */
    after?: (s: RunSummary) => Promise<readonly TrainEvent[]>;
  },
): Promise<RunSummary> {
  const { runDir, opts } = o;
  fs.mkdirSync(runDir, { recursive: true });
  // the config as SAELens's snake_case dict, secrets already masked by the caller's encoder
  fs.writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(o.config, null, 2) + '\n');
  const first = new Map<string, StepRecord>();
  const last = new Map<string, StepRecord>();
  const firstAt = new Map<string, number>();
  const lastAt = new Map<string, number>();
  const done = new Map<string, { path?: string; step: number; tokens: number }>();
  const warnings: string[] = [];
  const collector: Partial<Observer<TrainEvent>> = {
    next: (r) => {
      if (r.type === 'step') {
        if (!first.has(r.saeId)) {
          first.set(r.saeId, r);
          firstAt.set(r.saeId, Date.now());
        }
        last.set(r.saeId, r);
        lastAt.set(r.saeId, Date.now());
      } else if (r.type === 'done') done.set(r.saeId, { ...(r.path !== undefined ? { path: r.path } : {}), step: r.step, tokens: r.tokens });
      else if (r.type === 'warning') warnings.push(`${r.saeId}: ${r.message}`);
    },
  };
  const consoleOpt = opts.console ?? true;
  const observers: Partial<Observer<TrainEvent>>[] = [];
  if (consoleOpt) observers.push(consoleSink({ totalSteps: o.totalSteps, ...(typeof consoleOpt === 'object' ? consoleOpt : {}) }));
  observers.push(jsonlSink(path.join(runDir, 'records.jsonl')));
  const wb = o.wandb ? wandbSink(o.wandb) : undefined;
  if (wb) observers.push(wb);
  observers.push(collector, ...(opts.sinks ?? []));
  const t0 = Date.now();
  let failure: unknown;
  await new Promise<void>((resolve) => {
    const all = sinks(...observers);
    events$.subscribe({
      next: (r) => all.next(r),
      error: (e) => {
        failure = e;
        all.error(e);
        resolve();
      },
      complete: () => {
        all.complete();
        resolve();
      },
    });
  });
  const seconds = (Date.now() - t0) / 1000;
  if (wb) await wb.closed;
  if (failure !== undefined) throw failure;
  const ids = [...new Set([...first.keys(), ...done.keys()])];
  const saes: SaeRunSummary[] = ids.map((saeId) => {
    const d = done.get(saeId);
    const l = last.get(saeId);
    const f = first.get(saeId);
    return {
      saeId,
      ...(d?.path !== undefined ? { path: d.path } : {}),
      steps: d ? d.step : l ? l.step + 1 : 0,
      tokens: d?.tokens ?? l?.tokens ?? 0,
      ...(f ? { first: f } : {}),
      ...(l ? { last: l } : {}),
    };
  });
  // the same measure as the console's: rows trained since the first step record, per second
  const lead = saes.find((x) => x.first && x.last);
  const trainingSeconds = lead ? (lastAt.get(lead.saeId)! - firstAt.get(lead.saeId)!) / 1000 : 0;
  const trained = lead ? lead.last!.tokens - lead.first!.tokens : 0;
  let summary: RunSummary = { runDir, saes, seconds, tokensPerSecond: trainingSeconds > 0 ? trained / trainingSeconds : 0, trainingSeconds, warnings };
  if (o.after) {
    const extra = await o.after(summary);
    if (extra.length > 0) {
      fs.appendFileSync(path.join(runDir, 'records.jsonl'), extra.map((r) => JSON.stringify(r) + '\n').join(''));
      const evals = new Map(extra.flatMap((r) => (r.type === 'eval' ? [[r.saeId, r.metrics] as const] : [])));
      summary = { ...summary, saes: saes.map((x) => (evals.has(x.saeId) ? { ...x, evals: evals.get(x.saeId)! } : x)) };
    }
  }
  if (opts.report ?? true) summary = { ...summary, reportPath: await writeReport(runDir, { title: o.title }) };
  return summary;
}

/**
 * A cold Observable that runs `prepare` at subscription (load a model, train a toy model…),
 * then follows the stream it returns; what `prepare` made is released by `release` on
 * complete, error and unsubscribe (also when unsubscribed while `prepare` was still running).
 */
export function preparedStream<R>(
  prepare: () => Promise<R>,
  stream: (r: R) => Observable<TrainEvent>,
  release: (r: R) => void,
): Observable<TrainEvent> {
  return new Observable<TrainEvent>((subscriber) => {
    let closed = false;
    let res: { r: R } | undefined;
    let inner: { unsubscribe(): void } | undefined;
    const free = () => {
      const r = res;
      res = undefined;
      if (r) release(r.r);
    };
    prepare().then(
      (r) => {
        res = { r };
        if (closed) return free();
        try {
          inner = stream(r).subscribe(subscriber);
        } catch (e) {
          subscriber.error(e);
        }
      },
      (e) => subscriber.error(e),
    );
    return () => {
      closed = true;
      inner?.unsubscribe();
      free();
    };
  });
}

/**
 * The training stream of a run that may resume: without `resume`, `build(undefined)`; with it,
 * the newest checkpoint every SAE has in `runDir` in a valid state (`findResumePoint`, at
 * subscription; damaged ones are passed over, saying why) is handed to `build`, which replays
 * the stream up to it (every stage is seeded) and continues training from it. Temporary
 * folders of writes a killed run left are removed. records.jsonl keeps what the first run
 * logged up to the checkpoint (records of the steps after it, which the resumed run trains
 * again, and the killed run's error are dropped; warnings stay); starting afresh drops it all.
 */
export function resumableStream(
  o: { runDir: string; saeIds: readonly string[]; resume: boolean; log: (line: string) => void; totalSteps?: Readonly<Record<string, number>> },
  build: (r: ResumePoint | undefined) => Observable<TrainEvent>,
): Observable<TrainEvent> {
  if (!o.resume) return build(undefined);
  const records = path.join(o.runDir, 'records.jsonl');
  return defer(async () => {
    for (const p of await removeLeftoverWrites(o.runDir, o.saeIds)) o.log(`resume: removed ${p}, left by a write that did not finish`);
    return findResumePoint(o.runDir, o.saeIds, {
      ...(o.totalSteps ? { totalSteps: o.totalSteps } : {}),
      onDamaged: (d) => o.log(`sae-rx WARNING: resume: passing over ${d.path}: ${d.problem}`),
    }).catch((e: unknown) => {
      if (e instanceof ConfigError && /already finished/.test(e.message) && !fs.existsSync(path.join(o.runDir, 'report.html')))
        throw new ConfigError(`${e.message}; it has no report.html: write it with 'sae-rx report ${o.runDir}'`, { cause: e });
      throw e;
    });
  }).pipe(
    mergeMap((r) => {
      if (r) {
        o.log(`resuming from the checkpoints at ${r.tokens} tokens (replaying ${r.batchesConsumed} train batches)`);
        trimRecords(records, r.batchesConsumed);
      } else {
        o.log(`resume: no checkpoint in ${o.runDir}; starting afresh`);
        // the records of the run that left nothing to resume from are not this run's
        if (fs.existsSync(records)) fs.rmSync(records);
      }
      return build(r);
    }),
  );
}

/**
 * Drops from a run's records.jsonl the records of steps at or after `steps` (step and eval
 * records with step index ≥ steps, checkpoints taken after `steps` steps, `done`) and the
 * error that stopped it: what a run resumed from the checkpoint after `steps` steps writes
 * again (or, for the error, no longer has).
 */
function trimRecords(file: string, steps: number): void {
  if (!fs.existsSync(file)) return;
  const keep = fs.readFileSync(file, 'utf8').split('\n').filter((line) => {
    if (line.trim() === '') return false;
    let r: { type?: unknown; step?: unknown };
    try {
      r = JSON.parse(line) as { type?: unknown; step?: unknown };
    } catch {
      return false; // a line cut short by a killed process
    }
    const step = typeof r.step === 'number' ? r.step : -1;
    if (r.type === 'step' || r.type === 'eval') return step < steps;
    if (r.type === 'checkpoint') return step <= steps;
    return r.type !== 'done' && r.type !== 'error';
  });
  fs.writeFileSync(file, keep.map((l) => l + '\n').join(''));
}

export { type ResumePoint, findResumePoint } from '../train/resume.js';
