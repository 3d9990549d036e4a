/**
 * From a config file and the command line to a decoded runner config: read the file (JSON or
 * YAML), pick the runner kind, apply `--field value` overrides, decode. Every problem here is
 * the user's to fix (exit 2): a missing or unparsable file, an unknown field, a bad value.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { closestKey } from '../config/fields.js';
import { applyOverrides, loadConfigFile, runnerFieldTable } from '../config/files.js';
import { LANGUAGE_MODEL_FIELDS } from '../config/languageModelRunnerConfig.js';
import { type RunnerConfigs, type RunnerKind, decodeRunnerConfig } from '../config/runnerConfig.js';
import { TOY_MODEL_FIELDS } from '../config/toyModelRunnerConfig.js';
import { type FlagSpec, type ParsedArgs, configOverrides } from './args.js';
import { UsageError } from './errors.js';

/** Names a user may give for a kind (`--kind`, or a `kind:` key in the file). */
const KIND_NAMES: Record<string, RunnerKind> = {
  toy: 'toy_model',
  toy_model: 'toy_model',
  lm: 'language_model',
  language_model: 'language_model',
  cache: 'cache_activations',
  cache_activations: 'cache_activations',
};

/** Keys only the toy-model runner has: a config with any of them is a toy config. */
const TOY_ONLY_KEYS = Object.keys(TOY_MODEL_FIELDS).filter((k) => !(k in LANGUAGE_MODEL_FIELDS));

export function parseKind(name: string, allowed: readonly RunnerKind[], where: string): RunnerKind {
  const k = KIND_NAMES[name.toLowerCase().replace(/-/g, '_')];
  if (!k || !allowed.includes(k)) {
    const names = Object.entries(KIND_NAMES).filter(([, v]) => allowed.includes(v)).map(([n]) => n);
    const near = closestKey(name, names);
    throw new UsageError(`${where}: unknown runner kind ${JSON.stringify(name)}; expected one of ${names.join(', ')}${near ? ` (did you mean ${near}?)` : ''}`);
  }
  return k;
}

export interface LoadedRunConfig<K extends RunnerKind> {
  readonly kind: K;
  readonly file: string;
  /** The raw settings after overrides (what a resumed run decodes again). */
  readonly raw: Record<string, unknown>;
  readonly config: RunnerConfigs[K];
}

/**
 * Reads and decodes the config of `sae-rx train|cache`. `kinds` are the kinds the command
 * runs; the first is the default when neither `--kind` nor the file says.
 */
export async function loadRunConfig<K extends RunnerKind>(
  command: string,
  file: string,
  args: ParsedArgs,
  kinds: readonly K[],
  flags: readonly FlagSpec[],
  cwd: string,
): Promise<LoadedRunConfig<K> & { extraPositionals: string[] }> {
  const abs = path.resolve(cwd, file);
  if (!existsSync(abs)) throw new UsageError(`config file not found: ${file}`);
  const raw = await loadConfigFile(abs);
  // `kind:` in the file names the runner; it is the CLI's key, not a runner field.
  let kind: RunnerKind | undefined;
  if ('kind' in raw) {
    if (typeof raw.kind !== 'string') throw new UsageError(`${file}: kind: expected a string (${kinds.join(', ')}), got ${JSON.stringify(raw.kind)}`);
    kind = parseKind(raw.kind, kinds, `${file}: kind`);
    delete raw.kind;
  }
  const flagKind = args.flags['kind'];
  if (typeof flagKind === 'string') {
    const k = parseKind(flagKind, kinds, '--kind');
    if (kind !== undefined && k !== kind) throw new UsageError(`--kind ${flagKind} conflicts with kind ${JSON.stringify(kind)} in ${file}`);
    kind = k;
  }
  if (kind === undefined) {
    kind = kinds.includes('toy_model' as K) && TOY_ONLY_KEYS.some((k) => k in raw) ? 'toy_model' : kinds[0]!;
  }
  // the SAE architectures' config fields (config/architectureFields.ts) register when their
  // tensor-free tables load, not the registry: a coordinator that only decodes configs loads no
  // backend. A cache config has none.
  if (kind !== 'cache_activations') await import('../sae/architectures/fieldTables.js');
  const { overrides, positionals } = configOverrides(command, args.rest, runnerFieldTable(kind), flags);
  const merged = applyOverrides(raw, overrides, kind);
  const config = decodeRunnerConfig(merged, kind) as RunnerConfigs[K];
  return { kind: kind as K, file: abs, raw: merged, config, extraPositionals: positionals };
}
