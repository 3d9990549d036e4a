/**
 * The field-table machinery shared by the runner configs: each runner lists its fields
 * (codec, SAELens default, whether a list means a sweep), and `decodeFields` turns a raw
 * object into defaults-filled values plus a list of readable problems. Problems are collected,
 * never thrown one by one, so a user fixes a config in one pass.
 */
import { ConfigError } from '../errors.js';
import type * as t from 'io-ts';
import { isSecretKey } from './secrets.js';

export interface FieldSpec {
  /** Codec of one value (of one element, for a sweep). */
  readonly codec: t.Decoder<unknown, unknown>;
  /** SAELens's default. A function is called per decode (fresh objects). */
  readonly default: unknown;
  /** A list of values is a sweep over them (SAELens's list-valued hyperparameters). */
  readonly sweep?: boolean;
  /** Rewrites the raw value before validation (case-folding, dtype aliases). */
  readonly normalize?: (u: unknown) => unknown;
}

export type FieldTable = Readonly<Record<string, FieldSpec>>;

/** A field's default value (a function default is called: a fresh object per decode). */
export function defaultOf(spec: FieldSpec): unknown {
  return typeof spec.default === 'function' ? (spec.default as () => unknown)() : spec.default;
}

/** One thing wrong with a config: where (a dotted path or several field names) and what. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** A config failed to decode; `problems` holds every problem, the message lists them. */
export class RunnerConfigError extends ConfigError {
  constructor(
    readonly what: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `Invalid ${what} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'),
    );
  }
}

/** How a given value is shown in an error: short JSON, never a secret. */
export function showValue(value: unknown, key?: string): string {
  if (key !== undefined && isSecretKey(key)) return '<redacted>';
  if (value === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  if (typeof value === 'number' && !Number.isFinite(value)) s = String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Classic edit distance (insert, delete, substitute, each cost 1). */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** camelCase / kebab-case / mixed case to snake_case, so `l1Coefficient` finds `l1_coefficient`. */
export function toSnakeCase(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}

/** The known key closest to `key`, or undefined when nothing is close enough to be a typo. */
export function closestKey(key: string, known: Iterable<string>): string | undefined {
  const snake = toSnakeCase(key);
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    if (k === snake) return k;
    const d = Math.min(levenshtein(key, k), levenshtein(snake, k));
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  // A third of the key's length, at least 2: catches typos without suggesting unrelated keys.
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

export function isPlainObject(u: unknown): u is Record<string, unknown> {
  return typeof u === 'object' && u !== null && !Array.isArray(u);
}

export interface DecodedFields {
  /** Every field of the table: the given value (normalized) or the default. */
  readonly values: Record<string, unknown>;
  /** The fields the raw object set (not undefined). */
  readonly given: ReadonlySet<string>;
  readonly problems: ConfigProblem[];
}

/**
 * Validates each field of `raw` against `table`, fills defaults, and reports unknown keys with
 * the closest known key. `accepted` are keys that may appear (derived values SAELens writes
 * into cfg.json, such as tokens_per_buffer) and are ignored.
 */
export function decodeFields(
  raw: Record<string, unknown>,
  table: FieldTable,
  accepted: readonly string[] = [],
): DecodedFields {
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  const problems: ConfigProblem[] = [];
  const known = [...Object.keys(table), ...accepted];

  for (const key of Object.keys(raw)) {
    if (key in table || accepted.includes(key)) continue;
    const near = closestKey(key, Object.keys(table));
    problems.push({
      path: key,
      message: near ? `unknown key; did you mean ${near}?` : `unknown key (known keys: ${known.join(', ')})`,
    });
  }

  for (const [key, spec] of Object.entries(table)) {
    const rawValue = Object.prototype.hasOwnProperty.call(raw, key) ? raw[key] : undefined;
    if (rawValue === undefined) {
      values[key] = defaultOf(spec);
      continue;
    }
    given.add(key);
    const norm = spec.normalize ?? ((u: unknown) => u);
    const expected = spec.codec.name + (spec.sweep ? ' (or a non-empty list of them, for a sweep)' : '');
    if (Array.isArray(rawValue) && spec.sweep) {
      if (rawValue.length === 0) {
        problems.push({ path: key, message: `expected ${expected}, got an empty list` });
        continue;
      }
      const out: unknown[] = [];
      rawValue.forEach((el, i) => {
        const v = norm(el);
        const r = spec.codec.validate(v, []);
        if (r._tag === 'Left') {
          problems.push({ path: `${key}[${i}]`, message: `expected ${spec.codec.name}, got ${showValue(el, key)}` });
        } else out.push(r.right);
      });
      values[key] = out;
      continue;
    }
    const v = norm(rawValue);
    const r = spec.codec.validate(v, []);
    if (r._tag === 'Left') {
      const got = Array.isArray(rawValue)
        ? `a list ${showValue(rawValue, key)} (this field cannot be swept)`
        : showValue(rawValue, key);
      problems.push({ path: key, message: `expected ${expected}, got ${got}` });
      values[key] = defaultOf(spec);
    } else values[key] = r.right;
  }
  return { values, given, problems };
}

/** The table's defaults, as SAELens's dataclass would have them before __post_init__. */
export function tableDefaults(table: FieldTable): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    out[key] = defaultOf(spec);
  }
  return out;
}
