/**
 * Where W&B is and who we are, resolved as the wandb SDK does: the base URL from
 * `WANDB_BASE_URL` (default https://api.wandb.ai), the API key from the option, else
 * `WANDB_API_KEY`, else the `~/.netrc` entry for the base URL's host (`wandb login` writes
 * `machine api.wandb.ai login user password <key>`). The key is returned, never printed.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../errors.js';

export const DEFAULT_WANDB_BASE_URL = 'https://api.wandb.ai';

export interface WandbAuthOptions {
  readonly apiKey?: string;
  readonly baseUrl?: string;
  /** Environment to read (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** netrc file (default $NETRC or ~/.netrc). */
  readonly netrcPath?: string;
}

export interface WandbAuth {
  readonly baseUrl: string;
  readonly apiKey: string;
}

/** The `password` of the netrc entry for `host` (or the `default` entry), if any. */
export function netrcPassword(text: string, host: string): string | undefined {
  // netrc is a stream of whitespace-separated tokens; `macdef` bodies run to a blank line.
  const tokens = text.replace(/^macdef[^\n]*\n(.+\n)*?\n/gm, '').split(/\s+/).filter(Boolean);
  let current: string | null | undefined; // machine name, null for `default`
  let fallback: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (tok === 'machine') current = tokens[++i];
    else if (tok === 'default') current = null;
    else if (tok === 'password' || tok === 'login' || tok === 'account') {
      const value = tokens[++i];
      if (tok !== 'password' || value === undefined) continue;
      if (current === host) return value;
      if (current === null) fallback = value;
    }
  }
  return fallback;
}

/** Resolves the base URL and API key; throws a ConfigError (without any secret) if no key is found. */
export function resolveWandbAuth(opts: WandbAuthOptions = {}): WandbAuth {
  const env = opts.env ?? process.env;
  const baseUrl = (opts.baseUrl ?? env.WANDB_BASE_URL ?? DEFAULT_WANDB_BASE_URL).replace(/\/+$/, '');
  let host: string;
  try {
    host = new URL(baseUrl).hostname;
  } catch {
    throw new ConfigError(`wandbSink: base URL ${JSON.stringify(baseUrl)} is not a URL (option baseUrl or WANDB_BASE_URL)`);
  }
  let apiKey = opts.apiKey ?? env.WANDB_API_KEY;
  if (!apiKey) {
    const path = opts.netrcPath ?? env.NETRC ?? join(homedir(), '.netrc');
    try {
      apiKey = netrcPassword(readFileSync(path, 'utf8'), host);
    } catch {
      // no netrc: fall through to the error below
    }
  }
  if (!apiKey) {
    throw new ConfigError(
      `wandbSink: no W&B API key: pass apiKey, set WANDB_API_KEY, or add "machine ${host}" to ~/.netrc (wandb login)`,
    );
  }
  return { baseUrl, apiKey };
}
