/**
 * Retrying with exponential backoff: the one policy for everything that talks to a server
 * (Hugging Face Hub downloads in hub/http.ts, W&B logging in sinks/wandb/pump.ts). What counts
 * as transient (connection reset/refused, DNS hiccups, timeouts, HTTP 408/429/5xx) is decided
 * here too, so both retry the same failures.
 */

export interface BackoffPolicy {
  /** Wait after the first failure (ms). */
  readonly initialDelayMs: number;
  /** Longest wait (ms); a server's Retry-After is capped by it too. */
  readonly maxDelayMs: number;
  /** Growth per failure (default 2). */
  readonly factor?: number;
  /** Random extra wait, as a fraction of the delay (default 0): spreads clients that failed together. */
  readonly jitter?: number;
}

/**
 * The wait before retrying after failure number `failures` (0 for the first): the server's
 * Retry-After (seconds) when it sent one, else `initialDelayMs · factor^failures` capped at
 * `maxDelayMs`, plus jitter.
 */
export function backoffDelay(policy: BackoffPolicy, failures: number, retryAfter: string | null = null, random = Math.random): number {
  const ra = retryAfter !== null ? Number(retryAfter) : NaN;
  if (Number.isFinite(ra) && ra >= 0) return Math.min(ra * 1000, policy.maxDelayMs);
  const base = Math.min(policy.initialDelayMs * (policy.factor ?? 2) ** failures, policy.maxDelayMs);
  return base + (policy.jitter ? random() * base * policy.jitter : 0);
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** A network-level failure worth retrying (connection reset/refused, timeouts, DNS hiccups). */
export function isTransientNetworkError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    if (cur instanceof TypeError && cur.message === 'fetch failed') return true;
  }
  return false;
}

/** An HTTP answer worth retrying: server errors, rate limiting, request timeout. */
export function isTransientHttpStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Thrown by retryWithBackoff when `stopped()` says to give up between attempts. */
export class RetryStoppedError extends Error {
  constructor() {
    super('retrying stopped');
    this.name = 'RetryStoppedError';
  }
}

export interface RetryOptions {
  readonly policy: BackoffPolicy;
  /** Whether a failure is worth another attempt; the others are thrown at once. */
  readonly retryable: (e: unknown) => boolean;
  /** Most retries after the first attempt (default: no limit). */
  readonly maxRetries?: number;
  /** How to wait (default: a timer); a sink passes its own clock. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The server's Retry-After carried by a failure, if any. */
  readonly retryAfter?: (e: unknown) => string | null;
  /** Called before each wait, with the failure and how many failures there were so far (1, 2, …). */
  readonly onRetry?: (e: unknown, failures: number, delayMs: number) => void;
  /** Checked before each attempt: true throws RetryStoppedError (the caller shut down). */
  readonly stopped?: () => boolean;
}

/**
 * Runs `attempt(n)` (n = 0, 1, …) until it resolves; a retryable failure waits
 * `backoffDelay(policy, failures)` and tries again, up to `maxRetries` times. The last failure
 * (or a non-retryable one) is thrown as it was.
 */
export async function retryWithBackoff<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const maxRetries = opts.maxRetries ?? Infinity;
  const wait = opts.sleep ?? sleep;
  for (let n = 0; ; n++) {
    if (opts.stopped?.()) throw new RetryStoppedError();
    try {
      return await attempt(n);
    } catch (e) {
      if (!opts.retryable(e) || n >= maxRetries) throw e;
      const delay = backoffDelay(opts.policy, n, opts.retryAfter?.(e) ?? null);
      opts.onRetry?.(e, n + 1, delay);
      await wait(delay);
    }
  }
}
