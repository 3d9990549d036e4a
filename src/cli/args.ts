/**
 * Command-line parsing for `sae-rx`: global flags anywhere on the line, each command's own
 * flags, positionals, and (for commands that read a runner config) `--<config-field> VALUE`
 * overrides checked against the config's field table. Hand-written rather than
 * `util.parseArgs` because overrides are open-ended yet must be checked, with a suggestion,
 * against the fields of the runner kind, which is only known after reading the config.
 */
import { closestKey, toSnakeCase } from '../config/fields.js';
import { UsageError } from './errors.js';

export interface FlagSpec {
  /** Long name without dashes (`no-progress`). */
  readonly name: string;
  readonly short?: string;
  /** A boolean flag takes no value; a string flag takes one (`--x V` or `--x=V`). */
  readonly type: 'boolean' | 'string';
  readonly valueName?: string;
  readonly description: string;
  /** A global flag that means something to one command only: shown in that command's help alone. */
  readonly onlyFor?: string;
}

/** Flags every command accepts, anywhere on the line. */
export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'help', short: 'h', type: 'boolean', description: 'show help (for a command: its flags and config fields)' },
  { name: 'json', type: 'boolean', description: 'records as JSON lines on stdout; human output on stderr' },
  { name: 'quiet', short: 'q', type: 'boolean', description: 'only errors and results; no progress, no info lines' },
  { name: 'no-progress', type: 'boolean', description: 'no progress bar (periodic lines are not printed either)' },
  { name: 'debug', type: 'boolean', description: 'print stack traces of failures' },
  { name: 'resume', type: 'string', valueName: 'DIR', onlyFor: 'train', description: 'train: continue the run in DIR from its latest checkpoint (give the same CONFIG; records.jsonl is continued)' },
  { name: 'version', type: 'boolean', description: 'print the version' },
];

export interface ParsedArgs {
  readonly flags: Record<string, string | boolean>;
  readonly positionals: string[];
  /** `--field value` words that are not flags, keyed by the flag name as written (no dashes). */
  readonly rest: Array<{ name: string; value: string | undefined; negated: boolean; word: string }>;
}

/** Whether an argument has the shape of a hub repo id `owner/name` (model, dataset or SAE repo). */
export const looksLikeRepo = (s: string): boolean => /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/.test(s);

const isFlagWord = (w: string) => w.startsWith('-') && w !== '-' && !/^-\d|^-\.\d/.test(w);

/**
 * Splits argv into known flags, positionals and unknown `--name [value]` words. A value is
 * attached with `=` or is the next word unless that word is itself a flag (a negative number
 * is a value). `--` ends the flags.
 */
export function parseArgv(argv: readonly string[], known: readonly FlagSpec[]): ParsedArgs {
  const byName = new Map(known.map((f) => [f.name, f]));
  const byShort = new Map(known.filter((f) => f.short).map((f) => [f.short!, f]));
  const flags: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const rest: ParsedArgs['rest'] = [];
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!isFlagWord(w)) {
      positionals.push(w);
      continue;
    }
    if (!w.startsWith('--')) {
      // short flags: -h, -q (booleans only, may be grouped: -hq)
      for (const ch of w.slice(1)) {
        const f = byShort.get(ch);
        if (!f) throw new UsageError(`unknown option -${ch}`);
        if (f.type !== 'boolean') throw new UsageError(`-${ch} needs a value: use --${f.name} ${f.valueName ?? 'VALUE'}`);
        flags[f.name] = true;
      }
      continue;
    }
    const eq = w.indexOf('=');
    const name = eq >= 0 ? w.slice(2, eq) : w.slice(2);
    const inline = eq >= 0 ? w.slice(eq + 1) : undefined;
    if (name === '') throw new UsageError(`malformed option ${JSON.stringify(w)}`);
    const f = byName.get(name);
    const nextValue = (): string | undefined => {
      if (inline !== undefined) return inline;
      const nx = argv[i + 1];
      if (nx !== undefined && !isFlagWord(nx) && nx !== '--') {
        i++;
        return nx;
      }
      return undefined;
    };
    if (f) {
      if (f.type === 'boolean') {
        if (inline !== undefined) throw new UsageError(`--${name} takes no value (got ${JSON.stringify(inline)})`);
        flags[name] = true;
      } else {
        const v = nextValue();
        if (v === undefined || v === '') throw new UsageError(`--${name} needs a value (${f.valueName ?? 'VALUE'})`);
        flags[name] = v;
      }
      continue;
    }
    const negated = name.startsWith('no-') && inline === undefined;
    rest.push({ name, value: negated ? undefined : nextValue(), negated, word: w });
  }
  return { flags, positionals, rest };
}

/** The closest flag name (for "did you mean"), or undefined. */
export function suggestFlag(name: string, flags: readonly FlagSpec[], fields: readonly string[] = []): string | undefined {
  const candidates = [...flags.map((f) => f.name), ...fields.map((k) => k.replace(/_/g, '-'))];
  const near = closestKey(name.replace(/-/g, '_'), candidates.map((c) => c.replace(/-/g, '_')));
  return near?.replace(/_/g, '-');
}

/** Throws a UsageError naming the first unknown option, with a suggestion. */
export function rejectUnknown(command: string, rest: ParsedArgs['rest'], flags: readonly FlagSpec[]): void {
  const r = rest[0];
  if (!r) return;
  const near = suggestFlag(r.name, flags);
  throw new UsageError(`unknown option --${r.name} for 'sae-rx ${command}'${near ? `; did you mean --${near}?` : ''} (see 'sae-rx ${command} --help')`);
}

/**
 * Turns the unknown `--name value` words of a config command into config overrides:
 * `--l1-coefficient 5` → { l1_coefficient: "5" }; `--use-ghost-grads` (no value) and
 * `--no-use-ghost-grads` for booleans. Dotted names reach into object fields
 * (`--model-kwargs.center_unembed false`). Unknown fields are usage errors with a suggestion.
 */
export function configOverrides(
  command: string,
  rest: ParsedArgs['rest'],
  fields: Readonly<Record<string, { codec: { name: string } }>>,
  flags: readonly FlagSpec[],
): { overrides: Record<string, string>; positionals: string[] } {
  const out: Record<string, string> = {};
  const positionals: string[] = [];
  const names = Object.keys(fields);
  for (const r of rest) {
    const raw = r.negated ? r.name.slice(3) : r.name;
    const [head, ...tail] = raw.split('.');
    const key = toSnakeCase(head!);
    const spec = fields[key];
    if (!spec) {
      const near = suggestFlag(r.name, flags, names);
      throw new UsageError(
        `unknown option --${r.name} for 'sae-rx ${command}': not a flag and not a field of this config` +
          (near ? `; did you mean --${near}?` : '') +
          ` (see 'sae-rx ${command} --help')`,
      );
    }
    const isBool = /boolean/.test(spec.codec.name);
    let value = r.value;
    if (r.negated) {
      if (!isBool) throw new UsageError(`--${r.name}: ${key} is not a boolean field (${spec.codec.name}); give --${raw} VALUE`);
      value = 'false';
    } else if (value === undefined) {
      if (!isBool || tail.length > 0) throw new UsageError(`--${r.name} needs a value (${key}: ${spec.codec.name})`);
      value = 'true';
    } else if (isBool && tail.length === 0 && !/=/.test(r.word) && !/^(true|false|null|none|~)$/i.test(value)) {
      // `--use-ghost-grads cfg.yaml`: a bare boolean flag followed by a positional
      positionals.push(value);
      value = 'true';
    }
    out[[key, ...tail].join('.')] = value;
  }
  return { overrides: out, positionals };
}
