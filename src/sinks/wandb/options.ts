/**
 * The W&B sink's options, its stats and observer shape, and the defaults every part of it uses
 * (resolved once, in `wandbSettings`).
 */
import type { Observer } from 'rxjs';
import type { TrainEvent } from '../../stream/TrainEvent.js';
import type { BackoffPolicy } from '../../io/retry.js';

/** Timers of the pump (send interval, backoff, heartbeat); tests pass a virtual clock. */
export interface WandbClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: WandbClock = {
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
  /**
   * How long completion waits when W&B has not answered a single request during the run
   * (wall-clock ms, default 5000): an unreachable server must not hold every run's end for
   * `closeTimeoutMs`. An answer during that wait gives it the full `closeTimeoutMs`.
   */
  readonly unansweredCloseTimeoutMs?: number;
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

/** The options with every default filled in. */
export interface WandbSettings {
  readonly logFrequency: number;
  readonly maxBufferedLines: number;
  readonly maxLinesPerRequest: number;
  readonly minSendIntervalMs: number;
  readonly heartbeatMs: number;
  readonly closeTimeoutMs: number;
  readonly unansweredCloseTimeoutMs: number;
  readonly retry: BackoffPolicy;
  readonly clock: WandbClock;
}

export function wandbSettings(opts: WandbSinkOptions): WandbSettings {
  return {
    logFrequency: opts.logFrequency ?? 10,
    maxBufferedLines: opts.maxBufferedLines ?? 10_000,
    maxLinesPerRequest: opts.maxLinesPerRequest ?? 500,
    minSendIntervalMs: opts.minSendIntervalMs ?? 2000,
    heartbeatMs: opts.heartbeatMs ?? 30_000,
    closeTimeoutMs: opts.closeTimeoutMs ?? 60_000,
    unansweredCloseTimeoutMs: opts.unansweredCloseTimeoutMs ?? 5000,
    retry: { initialDelayMs: 2000, maxDelayMs: 60_000, factor: 2, ...opts.retry },
    clock: opts.clock ?? realClock,
  };
}
