/**
 * The fetch sae-rx hands to `@huggingface/hub`: adds the token (only for the hub's own origin,
 * never to a CDN it redirects to), retries transient failures with exponential backoff, and
 * remembers the last HTTP failure so errors can be explained (missing repo vs missing file vs
 * gated) without parsing the client's messages.
 */
import { HubError } from '../errors.js';
import {
  type BackoffPolicy, backoffDelay, isTransientHttpStatus, isTransientNetworkError, retryWithBackoff,
} from '../io/retry.js';
import { type HubConfig, hubToken, redactSecret } from './config.js';

export interface HttpFailure {
  status: number;
  /** the hub's `X-Error-Code` header (RepoNotFound, EntryNotFound, RevisionNotFound, GatedRepo) */
  errorCode?: string;
  /** the hub's `X-Error-Message` header */
  errorMessage?: string;
  url: string;
}

/** Per-operation state shared between the fetch wrapper and the error mapping. */
export interface FetchContext {
  lastFailure?: HttpFailure;
  /** true once a request failed for a transient reason and retries ran out */
  unreachable?: boolean;
  retries: number;
}

/** The hub's retry policy: cfg.retryBaseMs doubling to cfg.retryMaxMs, with 25 % jitter. */
function hubPolicy(cfg: HubConfig): BackoffPolicy {
  return { initialDelayMs: cfg.retryBaseMs, maxDelayMs: cfg.retryMaxMs, factor: 2, jitter: 0.25 };
}

/** The delay before retry `attempt`: the server's Retry-After, else exponential with jitter. */
export function backoff(cfg: HubConfig, attempt: number, retryAfter: string | null = null): number {
  return backoffDelay(hubPolicy(cfg), attempt, retryAfter);
}

/** A transient HTTP answer with retries left: thrown inside the retry loop, never out of it. */
class TransientStatus extends Error {
  constructor(readonly retryAfter: string | null) {
    super('transient HTTP status');
  }
}

/** A fetch that authenticates against the hub's origin and retries transient failures. */
export function hubFetch(cfg: HubConfig, ctx: FetchContext): typeof fetch {
  const inner = cfg.fetch ?? fetch;
  const hubOrigin = new URL(cfg.endpoint).origin;
  const token = hubToken(cfg);
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (token && !headers.has('authorization') && new URL(url).origin === hubOrigin) {
      headers.set('authorization', `Bearer ${token}`);
    }
    return retryWithBackoff(
      async (attempt) => {
        let resp: Response;
        try {
          resp = await inner(url, { ...init, headers });
        } catch (e) {
          if (isTransientNetworkError(e) && attempt >= cfg.maxRetries) ctx.unreachable = true;
          throw e;
        }
        if (isTransientHttpStatus(resp.status) && attempt < cfg.maxRetries) {
          await resp.body?.cancel().catch(() => {});
          throw new TransientStatus(resp.headers.get('retry-after'));
        }
        if (!resp.ok) {
          ctx.lastFailure = {
            status: resp.status,
            url,
            ...(resp.headers.get('x-error-code') ? { errorCode: resp.headers.get('x-error-code')! } : {}),
            ...(resp.headers.get('x-error-message') ? { errorMessage: resp.headers.get('x-error-message')! } : {}),
          };
          if (isTransientHttpStatus(resp.status)) ctx.unreachable = true;
        }
        return resp;
      },
      {
        policy: hubPolicy(cfg),
        maxRetries: cfg.maxRetries,
        retryable: (e) => e instanceof TransientStatus || isTransientNetworkError(e),
        retryAfter: (e) => (e instanceof TransientStatus ? e.retryAfter : null),
        onRetry: () => ctx.retries++,
      },
    );
  };
  return wrapped as typeof fetch;
}

export interface HubTarget {
  repo: string;
  type: 'model' | 'dataset';
  path?: string;
  revision: string;
}

function describe(t: HubTarget): string {
  const repo = `${t.type === 'dataset' ? 'dataset' : 'model'} repo "${t.repo}"`;
  return t.path !== undefined ? `file "${t.path}" in ${repo} at revision "${t.revision}"` : `${repo} at revision "${t.revision}"`;
}

/**
 * Turns whatever the hub client threw into a HubError that says what was missing or refused,
 * using the last HTTP failure seen; the token never appears in the message.
 */
export function toHubError(e: unknown, ctx: FetchContext, target: HubTarget, cfg: HubConfig): HubError {
  const token = hubToken(cfg);
  if (e instanceof HubError) return new HubError(redactSecret(e.message, token), { cause: e.cause });
  const f = ctx.lastFailure;
  const what = describe(target);
  const cause = e instanceof Error ? e.message : String(e);
  let msg: string;
  const tokenHint = token
    ? 'the token in use (HF_TOKEN or the token file) does not grant access'
    : 'no token is set: set HF_TOKEN (or log in with `huggingface-cli login`) with a token that has access';
  if (f && (f.errorCode === 'GatedRepo' || ((f.status === 401 || f.status === 403) && f.errorCode !== 'RepoNotFound'))) {
    msg = `${what}: access denied (HTTP ${f.status}${f.errorCode ? ` ${f.errorCode}` : ''}): the repo is gated or private and ${tokenHint}` +
      (f.errorCode === 'GatedRepo' ? '; also accept the repo\'s conditions on its hub page' : '');
  } else if (f?.errorCode === 'RepoNotFound') {
    msg = `${what}: repository not found (HTTP ${f.status})` + (token ? '' : '; if it is private or gated, set HF_TOKEN');
  } else if (f?.errorCode === 'RevisionNotFound') {
    msg = `${what}: revision "${target.revision}" not found (HTTP ${f.status})`;
  } else if (f?.errorCode === 'EntryNotFound' || /cannot get path info|invalid response for file/.test(cause)) {
    msg = `${what}: file not found in the repo`;
  } else if (f && f.status === 404) {
    msg = `${what}: not found (HTTP 404${f.errorCode ? ` ${f.errorCode}` : ''})`;
  } else if (ctx.unreachable || isTransientNetworkError(e)) {
    msg = `${what}: hub ${cfg.endpoint} unreachable after ${ctx.retries} retries (${f ? `HTTP ${f.status}` : cause})`;
  } else if (f) {
    msg = `${what}: HTTP ${f.status}${f.errorMessage ? ` (${f.errorMessage})` : ''}: ${cause}`;
  } else {
    msg = `${what}: ${cause}`;
  }
  return new HubError(redactSecret(msg, token), { cause: e });
}
