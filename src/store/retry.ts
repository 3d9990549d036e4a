/**
 * Retries of store requests on transient failures (HTTP 5xx/429, throttling, dropped or refused
 * connections, timeouts) with exponential backoff and jitter, for up to a time window: an
 * object store that is down for half a minute is ridden out; a permanent error (403, 404, a bad
 * request) fails at once.
 */

export interface RetryOptions {
  /** Keep retrying transient errors for this long (ms; default 120 000). */
  readonly windowMs?: number;
  /** First backoff (ms; default 200), doubled each time up to `maxDelayMs`. */
  readonly baseDelayMs?: number;
  /** Longest backoff (ms; default 5000). */
  readonly maxDelayMs?: number;
  /** Called before each wait (what failed, attempt number, delay). */
  readonly onRetry?: (what: string, attempt: number, delayMs: number, error: unknown) => void;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET',
  'TimeoutError', 'RequestTimeout', 'RequestTimeTooSkewed', 'SlowDown', 'ServiceUnavailable', 'InternalError', 'Throttling', 'ThrottlingException',
]);

/** Whether an error (AWS SDK, Node net or fs) is worth retrying. */
export function isTransient(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const err = e as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number }; $retryable?: unknown; message?: unknown; cause?: unknown };
  const status = err.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429 || status === 408)) return true;
  if (err.$retryable) return true;
  if (typeof err.code === 'string' && TRANSIENT_CODES.has(err.code)) return true;
  if (typeof err.name === 'string' && TRANSIENT_CODES.has(err.name)) return true;
  // a response cut short or a socket closed mid-body, as the SDK and Node report them
  if (typeof err.message === 'string' && /socket hang up|ECONNRESET|ECONNREFUSED|EPIPE|premature close|aborted|other side closed|Unexpected end|Deserialization error|non-xml/i.test(err.message))
    return true;
  return err.cause !== undefined && err.cause !== e ? isTransient(err.cause) : false;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `fn` until it succeeds, a non-transient error, or the window is spent (then the last error). */
export async function withRetry<T>(what: string, fn: () => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const windowMs = o.windowMs ?? 120_000;
  const base = o.baseDelayMs ?? 200;
  const maxDelay = o.maxDelayMs ?? 5000;
  const t0 = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e)) throw e;
      const elapsed = Date.now() - t0;
      if (elapsed >= windowMs) throw e;
      const exp = Math.min(maxDelay, base * 2 ** Math.min(attempt - 1, 20));
      const delay = Math.min(windowMs - elapsed, exp / 2 + Math.random() * (exp / 2));
      o.onRetry?.(what, attempt, delay, e);
      await sleep(delay);
    }
  }
}
