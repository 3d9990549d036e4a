/**
 * Hugging Face Hub settings, read from the environment the way the Python `huggingface_hub`
 * does (the JS client reads none of them itself):
 *
 * - `HF_ENDPOINT` (default https://huggingface.co)
 * - `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`, else the token file `HF_TOKEN_PATH` or
 *   `$HF_HOME/token` (written by `huggingface-cli login`)
 * - `HF_HUB_OFFLINE` = 1/true/yes/on: never touch the network, resolve from the cache only
 * - `HF_HOME` (default `$XDG_CACHE_HOME/huggingface` or `~/.cache/huggingface`), and the cache
 *   `HF_HUB_CACHE` (else `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`), laid out as
 *   `models--owner--name/{blobs,snapshots,refs}` so files the Python hub downloaded are reused.
 *
 * On configs made by `hubConfig` the token is kept out of sight: `token` is a non-enumerable
 * getter, and the value itself sits under a symbol key in a wrapper that prints as `***`. So
 * printing or JSON-serializing a config never shows it, yet a spread copy (`{ ...cfg,
 * offline: true }`) still carries it. Read it with `hubToken(cfg)`. Every error message
 * passes through `redactSecret`.
 */
import { platform } from '../platform/index.js';
import { ConfigError } from '../errors.js';

export interface HubConfig {
  /** Hub base URL, no trailing slash. */
  endpoint: string;
  /** Access token (hidden on configs made by `hubConfig`; read it with `hubToken`). */
  token?: string;
  /** Resolve from the cache only. */
  offline: boolean;
  /** The hub cache folder (`…/huggingface/hub`). */
  cacheDir: string;
  /** HF_HOME (where `token` lives). */
  hfHome: string;
  /** Retries after a transient failure (5xx, 429, connection reset); none on 4xx. */
  maxRetries: number;
  /** First backoff delay in ms; doubles each retry (plus up to 25% jitter). */
  retryBaseMs: number;
  /** Upper bound on one backoff delay in ms. */
  retryMaxMs: number;
  /** fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
  /** Where warnings go (falling back to the cache when the hub is unreachable). */
  warn?: (msg: string) => void;
}

const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);

function envFlag(v: string | undefined): boolean {
  return v !== undefined && TRUE_VALUES.has(v.trim().toLowerCase());
}

function readTokenFile(file: string): string | undefined {
  try {
    const t = platform.files.readText(file).trim();
    return t.length > 0 ? t : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The hub settings from `env` (default `process.env`), with `overrides` taking precedence.
 * A token given explicitly as `token: undefined` in overrides disables the env/file token.
 */
export function hubConfig(overrides: Partial<HubConfig> = {}, env: NodeJS.ProcessEnv = platform.environment()): HubConfig {
  const home = platform.homeDir();
  const xdg = env.XDG_CACHE_HOME || platform.path.join(home, '.cache');
  const hfHome = overrides.hfHome ?? (env.HF_HOME || platform.path.join(xdg, 'huggingface'));
  const cacheDir = overrides.cacheDir ?? (env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || platform.path.join(hfHome, 'hub'));
  const endpoint = (overrides.endpoint ?? (env.HF_ENDPOINT || 'https://huggingface.co')).replace(/\/+$/, '');
  try {
    const u = new URL(endpoint);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ConfigError(`hub endpoint ${JSON.stringify(endpoint)} (HF_ENDPOINT) is not an http(s) URL`);
  }
  const given = hubToken(overrides); // an own `token`, or the hidden one of a copied config
  const token = 'token' in overrides
    ? given
    : given || env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim() ||
      readTokenFile(env.HF_TOKEN_PATH || platform.path.join(hfHome, 'token'));
  const cfg: HubConfig = {
    endpoint,
    offline: overrides.offline ?? envFlag(env.HF_HUB_OFFLINE),
    cacheDir,
    hfHome,
    maxRetries: overrides.maxRetries ?? 5,
    retryBaseMs: overrides.retryBaseMs ?? 1000,
    retryMaxMs: overrides.retryMaxMs ?? 30_000,
    ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
    ...(overrides.warn ? { warn: overrides.warn } : {}),
  };
  for (const [k, v] of Object.entries({ maxRetries: cfg.maxRetries, retryBaseMs: cfg.retryBaseMs, retryMaxMs: cfg.retryMaxMs })) {
    if (!(Number.isFinite(v) && v >= 0)) throw new ConfigError(`hub ${k} must be a non-negative number, got ${v}`);
  }
  const secret = new SecretToken(token || undefined);
  Object.defineProperty(cfg, TOKEN_KEY, { value: secret, enumerable: true, writable: false, configurable: true });
  Object.defineProperty(cfg, 'token', { get: () => secret.reveal(), enumerable: false, configurable: true });
  return cfg;
}

const TOKEN_KEY = Symbol('sae-rx.hubToken');

/** Holds the token; prints, serializes and stringifies as `***`. */
class SecretToken {
  readonly #value: string | undefined;
  constructor(value: string | undefined) {
    this.#value = value;
  }
  reveal(): string | undefined {
    return this.#value;
  }
  toJSON(): string {
    return '***';
  }
  toString(): string {
    return '***';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '***';
  }
}

/**
 * The token a config carries: its own `token` property when it has one (a plain object, or
 * `{ ...cfg, token: other }`), else the hidden one of the `hubConfig` it was copied from.
 */
export function hubToken(cfg: Partial<HubConfig>): string | undefined {
  if (Object.prototype.hasOwnProperty.call(cfg, 'token')) return cfg.token || undefined;
  const s = (cfg as Record<symbol, unknown>)[TOKEN_KEY];
  return s instanceof SecretToken ? s.reveal() : undefined;
}

/** A config from a full config, partial overrides, or nothing (the environment). */
export function toHubConfig(hub?: Partial<HubConfig> | HubConfig): HubConfig {
  if (hub && isFullConfig(hub)) return hub;
  return hubConfig(hub ?? {});
}

function isFullConfig(h: Partial<HubConfig>): h is HubConfig {
  return typeof h.endpoint === 'string' && typeof h.cacheDir === 'string' && typeof h.hfHome === 'string' &&
    typeof h.offline === 'boolean' && typeof h.maxRetries === 'number' && typeof h.retryBaseMs === 'number' &&
    typeof h.retryMaxMs === 'number';
}

/** Replaces every occurrence of `secret` (and any `hf_…` token) in `s` with `***`. */
export function redactSecret(s: string, secret?: string): string {
  let out = s;
  if (secret && secret.length >= 4) out = out.split(secret).join('***');
  return out.replace(/hf_[A-Za-z0-9]{8,}/g, 'hf_***');
}
