/**
 * Reading runner configs from files (JSON, YAML) and applying command-line overrides
 * (`--l1-coefficient 5e-3,1e-2` → l1_coefficient: [0.005, 0.01]) before decoding.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { CACHE_ACTIVATIONS_FIELDS } from './cacheActivationsRunnerConfig.js';
import { architectureFieldTables, V15_STANDARD } from './architectureFields.js';
import { NonEmptyStr } from './codecs.js';
import { type FieldSpec, type FieldTable, isPlainObject, toSnakeCase } from './fields.js';
import { LANGUAGE_MODEL_FIELDS } from './languageModelRunnerConfig.js';
import type { RunnerKind } from './runnerConfig.js';
import { TOY_MODEL_FIELDS } from './toyModelRunnerConfig.js';
import { TRANSCODER_FIELDS } from './transcoderFields.js';

/** The field table of each runner kind (what overrides and `--help` list). */
export const FIELD_TABLES: Record<RunnerKind, FieldTable> = {
  language_model: LANGUAGE_MODEL_FIELDS,
  cache_activations: CACHE_ACTIVATIONS_FIELDS,
  toy_model: TOY_MODEL_FIELDS,
};

/**
 * The fields a runner config of `kind` accepts: its own, `architecture`, and every registered
 * architecture's fields (which one applies is checked when the config is decoded). What
 * command-line overrides and `--help` go by.
 */
export function runnerFieldTable(kind: RunnerKind): FieldTable {
  const out: Record<string, FieldSpec> = { ...FIELD_TABLES[kind] };
  if (kind === 'toy_model') return withArchitectures(out);
  Object.assign(out, TRANSCODER_FIELDS);
  if (kind === 'cache_activations') return out;
  return withArchitectures(out);
}

function withArchitectures(out: Record<string, FieldSpec>): FieldTable {
  out['architecture'] = { codec: NonEmptyStr, default: V15_STANDARD };
  for (const t of architectureFieldTables().values()) for (const [k, spec] of Object.entries(t)) if (!(k in out)) out[k] = spec;
  return out;
}

// YAML 1.2 reads `1_000_000` as a string; Python users write it (PyYAML and Python accept it).
const GROUPED_NUMBER = /^[+-]?\d+(_\d+)+(\.\d+)?([eE][+-]?\d+)?$/;

function ungroupNumbers(v: unknown): unknown {
  if (typeof v === 'string' && GROUPED_NUMBER.test(v)) return Number(v.replace(/_/g, ''));
  if (Array.isArray(v)) return v.map(ungroupNumbers);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, ungroupNumbers(x)]));
  return v;
}

/** Parses config text as JSON (`.json`) or YAML (`.yaml`/`.yml`, and anything else: YAML ⊃ JSON). */
export function parseConfigText(text: string, fileName = '<config>'): unknown {
  const ext = extname(fileName).toLowerCase();
  try {
    if (ext !== '.json') return ungroupNumbers(parseYaml(text));
    const value: unknown = JSON.parse(text);
    // JSON.parse keeps the last of duplicate keys silently; JSON is YAML 1.2, whose parser names them
    try {
      parseYaml(text, { uniqueKeys: true });
    } catch (e) {
      if (/unique/i.test((e as Error).message)) throw new ConfigError(`${fileName}: duplicate key in JSON: ${(e as Error).message}`, { cause: e });
    }
    return value;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${fileName}: not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads a runner config file (JSON or YAML) into a raw object, to pass to decodeRunnerConfig. */
export async function loadConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read config file: ${(e as Error).message}`, { cause: e });
  }
  if (text.trim() === '') throw new ConfigError(`${path}: the config file is empty (give at least the settings that differ from the defaults)`);
  const raw = parseConfigText(text, path);
  if (raw === null || raw === undefined) throw new ConfigError(`${path}: the config file holds no settings (only comments or null)`);
  if (!isPlainObject(raw)) {
    throw new ConfigError(`${path}: expected a mapping of settings at the top level, got ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  }
  return raw;
}

const NUMBER = /^[+-]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** One command-line word as a config value: null, boolean, number, JSON, or the string itself. */
export function parseScalar(s: string): unknown {
  const w = s.trim();
  if (/^(null|none|~)$/i.test(w)) return null;
  if (/^true$/i.test(w)) return true;
  if (/^false$/i.test(w)) return false;
  if (NUMBER.test(w)) return Number(w.replace(/_/g, ''));
  if (/^[[{]/.test(w)) {
    try {
      return JSON.parse(w);
    } catch {
      return s;
    }
  }
  return s;
}

/**
 * Applies command-line overrides to a raw config: keys may be kebab-case, camelCase or
 * snake_case, with or without leading dashes, and dotted for nested objects
 * (`model_kwargs.center_writing_weights`). Values are parsed (numbers like `1e6`, booleans,
 * `null`, JSON); a comma-separated value of a sweepable field is a list (`1e-3,5e-3`). A value
 * a string field accepts as-is stays a string (`--wandb-id 12345678`). Returns a new object.
 */
export function applyOverrides(
  raw: Record<string, unknown>,
  overrides: Readonly<Record<string, string>>,
  kind: RunnerKind = 'language_model',
): Record<string, unknown> {
  const table = runnerFieldTable(kind);
  const out: Record<string, unknown> = structuredClone(raw);
  for (const [flag, text] of Object.entries(overrides)) {
    const path = flag.replace(/^-+/, '').split('.');
    const top = toSnakeCase(path[0]!);
    const spec = table[top];
    let value: unknown;
    if (path.length > 1 || !spec) {
      value = parseScalar(text);
    } else {
      const one = (w: string): unknown => {
        // A string the field takes as it is stays a string ("12345678" as a wandb_id).
        if (!/^(null|none|~)$/i.test(w.trim()) && spec.codec.validate(w, [])._tag === 'Right') return w;
        return parseScalar(w);
      };
      if (spec.sweep && text.includes(',') && !/^\s*\[/.test(text)) value = text.split(',').map(one);
      else value = one(text);
    }
    let target = out;
    for (const seg of path.slice(0, -1).map((p, i) => (i === 0 ? toSnakeCase(p) : p))) {
      if (!isPlainObject(target[seg])) target[seg] = {};
      target = target[seg] as Record<string, unknown>;
    }
    const last = path.length === 1 ? top : path[path.length - 1]!;
    target[last] = value;
  }
  return out;
}
