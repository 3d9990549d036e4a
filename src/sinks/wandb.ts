/**
 * A Weights & Biases sink: TrainEvent records → a W&B run, as SAELens v1.5.0 logs it.
 *
 * It never blocks or kills training (DESIGN.md §3.4): `next()` only appends a line to a bounded
 * queue and returns; one async pump sends the queue (batched), retrying with exponential backoff
 * while W&B is unreachable, so an outage is buffered and caught up afterwards. When the bound is
 * hit the oldest unsent lines are dropped, counted, and a warning says so (once; the total comes
 * again on close). A non-retryable answer (401, 404, GraphQL error) stops the sink with a
 * warning. The API key only ever goes into the Authorization header; every message the sink
 * emits is scrubbed of it.
 */
import type { Observer } from 'rxjs';
import { type LanguageModelSaeRunnerConfig, generateRunId } from '../config/languageModelRunnerConfig.js';
import { encodeRunnerConfig } from '../config/runnerConfig.js';
import { redactSecrets } from '../config/secrets.js';
import { type SingleLanguageModelSaeRunnerConfig, expandSweep } from '../config/sweep.js';
import type { TrainEvent } from '../stream/TrainEvent.js';
import { resolveWandbAuth } from './wandb/auth.js';
import {
  type FileStreamBody, HISTORY_FILE, SUMMARY_FILE, WandbClient, WandbRequestError,
} from './wandb/client.js';
import { type HistoryRow, evalRow, stepRow } from './wandb/records.js';

/** Timers of the pump (send interval, backoff, heartbeat); tests pass a virtual clock. */
export interface WandbClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: WandbClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface WandbRetryOptions {
  /** First wait after a failure (ms, default 2000, as the wandb SDK). */
  readonly initialDelayMs?: number;
  /** Longest wait (ms, default 60000). */
  readonly maxDelayMs?: number;
  /** Growth per failure (default 2). */
  readonly factor?: number;
}

export interface WandbSinkOptions {
  readonly project: string;
  /** Default: the API key's default entity (W&B answers it). */
  readonly entity?: string;
  /** The run's display name (SAELens run_name). */
  readonly runName?: string;
  /** The run id (SAELens wandb_id); default a fresh 8-character id. */
  readonly id?: string;
  /** The run config (SAELens's cfg); secrets are masked before it is sent. */
  readonly config?: Record<string, unknown>;
  /** Log a step record every this many steps, when (step + 1) % n == 0 (SAELens wandb_log_frequency, default 10). */
  readonly logFrequency?: number;
  /** Default WANDB_BASE_URL or https://api.wandb.ai. */
  readonly baseUrl?: string;
  /** Default WANDB_API_KEY or ~/.netrc. */
  readonly apiKey?: string;
  readonly fetch?: typeof fetch;
  /** Where warnings go (default stderr). Messages never contain the key. */
  readonly warn?: (message: string) => void;
  /** Metric-name suffix per SAE (SAELens `_wandb_log_suffix`; expandSweep gives `wandb_suffix`). Default: '' for the first SAE seen, `_{saeId}` for others. */
  readonly metricSuffix?: (saeId: string) => string;
  /** Most history lines held while W&B is unreachable (default 10000); beyond, the oldest are dropped. */
  readonly maxBufferedLines?: number;
  /** Most history lines per request (default 500). */
  readonly maxLinesPerRequest?: number;
  /** Least time between two sends while training (ms, default 2000; flush and close send at once). */
  readonly minSendIntervalMs?: number;
  /** Heartbeat when idle this long (ms, default 30000, as the wandb SDK; 0 disables). */
  readonly heartbeatMs?: number;
  /** How long completion / flush() wait for the queue before giving up (wall-clock ms, default 60000). */
  readonly closeTimeoutMs?: number;
  readonly retry?: WandbRetryOptions;
  /** Per-request timeout (ms, default 30000). */
  readonly requestTimeoutMs?: number;
  readonly clock?: WandbClock;
  /** Environment / netrc for key and URL resolution (tests). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly netrcPath?: string;
}

export interface WandbSinkStats {
  /** History lines W&B acknowledged. */
  readonly sentLines: number;
  /** History lines waiting (queued or in flight). */
  readonly pendingLines: number;
  /** History lines dropped because the buffer bound was hit, or the sink stopped. */
  readonly droppedLines: number;
  /** Failed requests that were retried. */
  readonly failedRequests: number;
  /** The run, once W&B created it. */
  readonly run: { entity: string; project: string; id: string } | null;
  /** 'running' | 'finished' (complete sent) | 'failed' (stopped on a permanent error or timeout). */
  readonly state: 'running' | 'finishing' | 'finished' | 'failed';
}

export interface WandbSink extends Required<Pick<Observer<TrainEvent>, 'next' | 'error' | 'complete'>> {
  readonly name: string;
  /** Resolves when everything logged so far is acknowledged (or after closeTimeoutMs, with a warning). Never rejects. */
  flush(timeoutMs?: number): Promise<void>;
  /** Resolves when the run is complete on W&B, or the sink gave up. Never rejects. */
  readonly closed: Promise<void>;
  stats(): WandbSinkStats;
}

/**
 * An observer of TrainEvent records that logs them to a W&B run: step records every
 * `logFrequency` steps as history rows under SAELens's names, eval records (metrics and
 * histograms) at their step, the latest values as the run summary; `done` for every SAE seen,
 * or complete(), finishes the run (exitcode 0; error() gives exitcode 1).
 */
export function wandbSink(opts: WandbSinkOptions): WandbSink {
  const auth = resolveWandbAuth(opts);
  const client = new WandbClient(auth.baseUrl, auth.apiKey, opts.fetch, opts.requestTimeoutMs);
  const clock = opts.clock ?? realClock;
  const warnOut = opts.warn ?? ((m: string) => process.stderr.write(`sae-rx: ${m}\n`));
  const warn = (m: string) => {
    try {
      warnOut(client.scrub(`wandb: ${m}`));
    } catch {
      // a failing warn callback must not reach training either
    }
  };
  const logFrequency = opts.logFrequency ?? 10;
  const maxBuffered = opts.maxBufferedLines ?? 10_000;
  const maxPerRequest = opts.maxLinesPerRequest ?? 500;
  const minInterval = opts.minSendIntervalMs ?? 2000;
  const heartbeatMs = opts.heartbeatMs ?? 30_000;
  const closeTimeoutMs = opts.closeTimeoutMs ?? 60_000;
  const retry = { initialDelayMs: 2000, maxDelayMs: 60_000, factor: 2, ...opts.retry };
  const runId = opts.id ?? generateRunId();
  const startMs = clock.now();

  // --- state -------------------------------------------------------------------------------
  let queue: string[] = [];
  let inflight = 0; // lines at the head of `queue` being sent
  let sentLines = 0;
  let droppedLines = 0;
  let failedRequests = 0;
  let warnedDrop = false;
  let offset = 0; // history lines W&B holds
  const summary: Record<string, unknown> = {};
  let summaryDirty = false;
  let pendingRow: { step: number; row: HistoryRow } | null = null;
  let run: { entity: string; project: string; id: string } | null = null;
  let state: WandbSinkStats['state'] = 'running';
  let exitcode = 0;
  let finishRequested = false;
  let urgent = false; // a flush/close wants the queue sent now
  const suffixes = new Map<string, string>();
  const doneSaes = new Set<string>();
  let wake: (() => void) | null = null;
  const idleWaiters: Array<() => void> = [];
  let pumpStarted = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));

  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  // Waits the pump is in: 'idle' ones end early when data arrives (poke) and do not keep the
  // process alive; 'backoff' ones keep it alive and end early only when the sink stops.
  const stopWaiters = new Set<() => void>();
  const sleep = (ms: number, mode: 'idle' | 'backoff') =>
    new Promise<void>((resolve) => {
      let handle: unknown;
      const done = () => {
        stopWaiters.delete(done);
        if (wake === done) wake = null;
        clock.clearTimeout(handle);
        resolve();
      };
      handle = clock.setTimeout(done, ms);
      stopWaiters.add(done);
      if (mode === 'idle') {
        (handle as { unref?: () => void } | undefined)?.unref?.();
        wake = done;
      }
    });

  const suffixOf = (saeId: string): string => {
    let s = suffixes.get(saeId);
    if (s === undefined) {
      s = opts.metricSuffix ? opts.metricSuffix(saeId) : suffixes.size === 0 ? '' : `_${saeId}`;
      suffixes.set(saeId, s);
    }
    return s;
  };

  const enqueueLine = (line: string) => {
    queue.push(line);
    trimQueue();
  };

  const trimQueue = () => {
    const excess = queue.length - inflight - maxBuffered;
    if (excess > 0) {
      // Drop the oldest lines not in flight: the newest tell where training is now.
      queue.splice(inflight, excess);
      droppedLines += excess;
      if (!warnedDrop) {
        warnedDrop = true;
        warn(`W&B is behind: buffer of ${maxBuffered} history lines is full, dropping the oldest (${droppedLines} dropped so far; the total is reported on close)`);
      }
    }
  };

  const emitPendingRow = () => {
    if (!pendingRow) return;
    const nowMs = clock.now();
    const row = { ...pendingRow.row, _step: pendingRow.step, _runtime: (nowMs - startMs) / 1000, _timestamp: nowMs / 1000 };
    pendingRow = null;
    enqueueLine(JSON.stringify(row));
    Object.assign(summary, row);
    summaryDirty = true;
    ensurePump();
    poke();
  };

  const addRow = (step: number, row: HistoryRow) => {
    if (Object.keys(row).length === 0) return;
    // Rows of one step (several SAEs, a step and its eval) are one history line, as wandb.log(step=) merges them.
    if (pendingRow && pendingRow.step !== step) emitPendingRow();
    if (!pendingRow) pendingRow = { step, row: {} };
    Object.assign(pendingRow.row, row);
  };

  // --- the pump: one async loop that owns all network traffic ----------------------------
  const hasWork = () => queue.length > 0 || summaryDirty;

  const buildBody = (): { body: FileStreamBody; lines: number; withSummary: boolean } => {
    const lines = Math.min(queue.length, maxPerRequest);
    const files: NonNullable<FileStreamBody['files']> = {};
    if (lines > 0) files[HISTORY_FILE] = { offset, content: queue.slice(0, lines) };
    const withSummary = summaryDirty;
    if (withSummary) files[SUMMARY_FILE] = { offset: 0, content: [JSON.stringify(summary)] };
    return { body: { files }, lines, withSummary };
  };

  /** Runs `attempt` until it succeeds; false if the sink must stop (permanent error / gave up). */
  const withRetry = async (what: string, attempt: () => Promise<void>): Promise<boolean> => {
    let failures = 0;
    let delay = retry.initialDelayMs;
    for (;;) {
      if (state === 'failed') return false;
      try {
        await attempt();
        if (failures > 0) warn(`${what}: W&B reachable again after ${failures} failed attempt${failures === 1 ? '' : 's'}; catching up`);
        return true;
      } catch (e) {
        const err = e instanceof WandbRequestError ? e : new WandbRequestError(client.scrub(String((e as Error)?.message ?? e)), true);
        if (!err.retryable) {
          warn(`${what} failed, not retrying: ${err.message}; nothing more is sent to W&B (training goes on)`);
          return false;
        }
        failedRequests++;
        if (failures++ === 0) warn(`${what} failed: ${err.message}; buffering and retrying with backoff (training goes on)`);
        await sleep(delay, 'backoff');
        delay = Math.min(retry.maxDelayMs, delay * retry.factor);
      }
    }
  };

  const fail = () => {
    state = 'failed';
    droppedLines += queue.length;
    queue = [];
    inflight = 0;
    summaryDirty = false;
    for (const stop of [...stopWaiters]) stop();
    poke();
  };

  const pump = async () => {
    const ok = await withRetry('creating the W&B run', async () => {
      const r = await client.upsertRun({
        runId,
        project: opts.project,
        entity: opts.entity,
        displayName: opts.runName,
        config: opts.config ? redactSecrets(opts.config) : undefined,
      });
      run = { entity: r.entity, project: r.project, id: r.runId };
      offset = r.historyLineCount;
    });
    if (!ok || !run) return fail();
    const r = run;
    let lastSend = clock.now();
    for (;;) {
      if (state === 'failed') return;
      if (hasWork()) {
        const wait = lastSend + minInterval - clock.now();
        if (!urgent && !finishRequested && wait > 0) {
          await sleep(wait, 'idle');
          continue;
        }
        const sent = await withRetry('sending history', async () => {
          const { body, lines, withSummary } = buildBody();
          inflight = lines;
          try {
            await client.fileStream(r.entity, r.project, r.id, body);
          } catch (e) {
            // Unsent after all: the lines in flight count against the bound again.
            inflight = 0;
            trimQueue();
            throw e;
          }
          inflight = 0;
          // Acknowledged: drop exactly what was sent (the queue may have grown meanwhile).
          queue.splice(0, lines);
          offset += lines;
          sentLines += lines;
          if (withSummary && body.files?.[SUMMARY_FILE]?.content[0] === JSON.stringify(summary)) summaryDirty = false;
        });
        lastSend = clock.now();
        if (!sent) return fail();
        continue;
      }
      urgent = false;
      for (const w of idleWaiters.splice(0)) w();
      if (finishRequested) {
        const done = await withRetry('completing the W&B run', () => client.fileStream(r.entity, r.project, r.id, { complete: true, exitcode }));
        if (!done) return fail();
        state = 'finished';
        return;
      }
      const before = clock.now();
      if (heartbeatMs > 0) await sleep(heartbeatMs, 'idle');
      else await new Promise<void>((r) => (wake = r)); // no heartbeats: wait for data only
      if (!hasWork() && !finishRequested && heartbeatMs > 0 && clock.now() - before >= heartbeatMs) {
        // Tells W&B the run is alive; a failure here is retried like any other request.
        if (!(await withRetry('heartbeat', () => client.fileStream(r.entity, r.project, r.id, {})))) return fail();
        lastSend = clock.now();
      }
    }
  };

  const ensurePump = () => {
    if (pumpStarted) return;
    pumpStarted = true;
    pump()
      .catch((e) => {
        warn(`stopped: ${(e as Error)?.message ?? String(e)}`);
        fail();
      })
      .finally(() => {
        for (const w of idleWaiters.splice(0)) w();
        if (droppedLines > 0) warn(`${droppedLines} history line${droppedLines === 1 ? ' was' : 's were'} not sent to W&B`);
        resolveClosed();
      });
  };

  const withTimeout = (p: Promise<void>, timeoutMs: number, what: string) =>
    new Promise<void>((resolve) => {
      // Wall-clock (not `clock`): the last resort that lets a process exit.
      const h = setTimeout(() => {
        warn(`${what} timed out after ${timeoutMs} ms with ${queue.length} history lines unsent`);
        resolve();
      }, timeoutMs);
      void p.then(() => {
        clearTimeout(h);
        resolve();
      });
    });

  const finish = (code: number) => {
    if (finishRequested || state !== 'running') return;
    emitPendingRow();
    exitcode = code;
    finishRequested = true;
    state = 'finishing';
    ensurePump();
    poke();
    void withTimeout(closed, closeTimeoutMs, 'completing the W&B run').then(() => {
      if (state === 'finishing') {
        // Gave up: stop the pump's retries so the process can exit.
        fail();
        poke();
      }
    });
  };

  const guard = (f: () => void) => {
    try {
      f();
    } catch (e) {
      warn(`ignored a record it could not log: ${(e as Error)?.message ?? String(e)}`);
    }
  };

  return {
    name: `wandb ${opts.project}/${runId}`,
    next: (ev: TrainEvent) =>
      guard(() => {
        if (state !== 'running') return;
        switch (ev.type) {
          case 'step': {
            const suffix = suffixOf(ev.saeId);
            if ((ev.step + 1) % logFrequency === 0) addRow(ev.step, stepRow(ev, suffix));
            // Training moved past the pending row's step: nothing more joins it, send it now.
            else if (pendingRow && ev.step > pendingRow.step) emitPendingRow();
            break;
          }
          case 'eval':
            addRow(ev.step, evalRow(ev, suffixOf(ev.saeId)));
            break;
          case 'done':
            suffixOf(ev.saeId);
            doneSaes.add(ev.saeId);
            if ([...suffixes.keys()].every((id) => doneSaes.has(id))) finish(0);
            break;
          default:
            break;
        }
      }),
    error: () => guard(() => finish(1)),
    complete: () => guard(() => finish(0)),
    flush: (timeoutMs = closeTimeoutMs) => {
      try {
        if (state === 'failed' || state === 'finished') return Promise.resolve();
        emitPendingRow();
        if (!hasWork()) return Promise.resolve();
        urgent = true;
        ensurePump();
        const idle = new Promise<void>((r) => idleWaiters.push(r));
        poke();
        return withTimeout(idle, timeoutMs, 'flush');
      } catch {
        return Promise.resolve();
      }
    },
    closed,
    stats: () => ({
      sentLines,
      pendingLines: queue.length + (pendingRow ? 1 : 0),
      droppedLines,
      failedRequests,
      run: run ? { ...run } : null,
      state,
    }),
  };
}

/**
 * The sink options SAELens's runner uses for a decoded runner config: project, entity, run name,
 * id (wandb_id, else the id already appended to checkpoint_path), the config itself, log
 * frequency, and each SAE's metric suffix keyed by its `sae_id` (use those ids for trainSae).
 */
export function wandbOptionsFromRunnerConfig(
  cfg: LanguageModelSaeRunnerConfig,
  saes: readonly SingleLanguageModelSaeRunnerConfig[] = expandSweep(cfg),
): WandbSinkOptions {
  const suffixes = new Map(saes.map((s) => [s.sae_id, s.wandb_suffix]));
  return {
    project: cfg.wandb_project,
    ...(cfg.wandb_entity !== null ? { entity: cfg.wandb_entity } : {}),
    runName: cfg.run_name,
    id: cfg.wandb_id ?? cfg.run_id,
    config: encodeRunnerConfig(cfg),
    logFrequency: cfg.wandb_log_frequency,
    metricSuffix: (saeId) => suffixes.get(saeId) ?? `_${saeId}`,
  };
}
