/**
 * Secrets (Hugging Face tokens, W&B API keys) must never be printed or written (DESIGN.md §8).
 * `redactSecrets` masks them anywhere in a config-like value: under keys that name a secret,
 * and in any string that looks like one (a token pasted into the wrong field, or into a URL).
 */

/** Keys whose values are secrets: hf_token, token, api_key, wandb_api_key, WANDB_API_KEY, password… */
const SECRET_KEY = /(^|[_\-.])(hf_?token|token|auth_?token|access_?token|api_?key|apikey|wandb_?(api_?)?key|password|passwd|secret|authorization)$/i;

/** Special-token names (bos_token, eosToken…) are vocabulary entries, not credentials. */
const VOCAB_TOKEN = /(^|[_\-.])(bos|eos|pad|unk|sep|cls|mask|special)_?token$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !VOCAB_TOKEN.test(key);
}

/** What a masked value is replaced with. */
export const REDACTED = '***';

// HF user access tokens are "hf_" + 34 letters; W&B keys are 40 hex characters (local
// servers prefix "local-"). Both patterns are specific enough not to mask ordinary values.
const SECRET_VALUE = /\bhf_[A-Za-z0-9]{30,}\b|\b(local-)?[0-9a-f]{40}\b/g;

/** Masks secret-looking substrings of one string. */
export function redactString(s: string, extraSecrets: readonly string[] = []): string {
  let out = s.replace(SECRET_VALUE, REDACTED);
  for (const secret of extraSecrets) {
    if (secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/**
 * A deep copy of `value` with secrets masked: string values under secret-named keys become `***`
 * (null and empty stay as they are, so "no token" is still visible), and secret-looking strings
 * anywhere are masked. `extraSecrets` are known secret values to mask wherever they occur.
 */
export function redactSecrets<T>(value: T, extraSecrets: readonly string[] = []): T {
  const seen = new WeakMap<object, unknown>();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactString(v, extraSecrets);
    if (typeof v !== 'object' || v === null) return v;
    if (seen.has(v)) return seen.get(v);
    if (Array.isArray(v)) {
      const arr: unknown[] = [];
      seen.set(v, arr);
      for (const x of v) arr.push(walk(x));
      return arr;
    }
    const out: Record<string, unknown> = {};
    seen.set(v, out);
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[k] = isSecretKey(k) && typeof x === 'string' && x !== '' ? REDACTED : walk(x);
    }
    return out;
  };
  return walk(value) as T;
}
