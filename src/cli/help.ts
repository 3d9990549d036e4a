/**
 * Help texts. The config-field sections are generated from the runner configs' field tables
 * (the same codecs that decode the files), so names, expected values and defaults cannot
 * drift from what the decoder accepts.
 */
import { type FieldTable, defaultOf } from '../config/fields.js';
import type { FlagSpec } from './args.js';
import { GLOBAL_FLAGS } from './args.js';

function showDefault(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return Math.abs(v) >= 1e5 && Number.isInteger(v) ? v.toExponential().replace('e+', 'e') : String(v);
  return JSON.stringify(v);
}

/** One line per flag: `  --name VALUE   description`. */
export function flagLines(flags: readonly FlagSpec[]): string[] {
  const left = flags.map((f) => `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.type === 'string' ? ` ${f.valueName ?? 'VALUE'}` : ''}`);
  const w = Math.max(...left.map((l) => l.length));
  return flags.map((f, i) => `  ${left[i]!.padEnd(w)}  ${f.description}`);
}

/**
 * The fields of a runner config as override flags: name, what the decoder expects, the
 * default. Sweepable fields say so (a comma-separated value is a sweep).
 */
export function fieldLines(table: FieldTable): string[] {
  const rows = Object.entries(table).map(([k, spec]) => ({
    flag: `--${k.replace(/_/g, '-')}`,
    expected: spec.codec.name + (spec.sweep ? ' (a,b,… = sweep)' : ''),
    dflt: showDefault(defaultOf(spec)),
  }));
  const w1 = Math.max(...rows.map((r) => r.flag.length));
  const w2 = Math.min(60, Math.max(...rows.map((r) => r.expected.length)));
  return rows.map((r) => `  ${r.flag.padEnd(w1)}  ${r.expected.padEnd(w2)}  default ${r.dflt}`);
}

/**
 * The SAE architectures a runner config can name (`architecture:` in a flat config or in a
 * SAELens 6 `sae:` block), each with its own fields and their defaults.
 */
export async function architectureLines(): Promise<string[]> {
  // the registry brings the SAE code and its backend: loaded for this help only (commands/index.ts)
  const { ARCHITECTURES } = await import('../sae/architectures/registry.js');
  const out: string[] = [];
  for (const a of ARCHITECTURES) {
    out.push(`  ${a.name}: ${a.summary}`);
    const fields = fieldLines(a.fields);
    out.push(...(fields.length > 0 ? fields.map((l) => `  ${l}`) : ['    (the runner fields above: l1_coefficient, lp_norm, ghost grads, decoder init, fine-tuning)']));
  }
  return out;
}

export interface CommandHelp {
  readonly usage: string;
  readonly summary: string;
  readonly description?: string;
  readonly flags: readonly FlagSpec[];
  readonly sections?: ReadonlyArray<{ readonly title: string; readonly lines: readonly string[] }>;
}

/** The help of command `name`: its flags and the global ones that concern it (not other commands' flags). */
export function commandHelp(h: CommandHelp, name?: string): string {
  const out = [`Usage: sae-rx ${h.usage}`, '', h.summary];
  if (h.description) out.push('', h.description);
  if (h.flags.length) out.push('', 'Options:', ...flagLines(h.flags));
  out.push('', 'Global options:', ...flagLines(GLOBAL_FLAGS.filter((f) => f.onlyFor === undefined || f.onlyFor === name)));
  for (const s of h.sections ?? []) out.push('', `${s.title}:`, ...s.lines);
  out.push('', `Exit codes: 0 done, 1 failure (stage and cause), 2 bad usage or config.`);
  return out.join('\n') + '\n';
}

export function mainHelp(commands: ReadonlyArray<{ name: string; summary: string; usage: string }>): string {
  const w = Math.max(...commands.map((c) => c.usage.length));
  return [
    'Usage: sae-rx COMMAND [ARGS] [OPTIONS]',
    '',
    'Train and analyze sparse autoencoders on transformer activations (a port of SAELens v1.5.0).',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.usage.padEnd(w)}  ${c.summary}`),
    '',
    'Global options:',
    ...flagLines(GLOBAL_FLAGS),
    '',
    "Run 'sae-rx COMMAND --help' for a command's options (train and cache list every config field with its default).",
    'Exit codes: 0 done, 1 failure (stage and cause), 2 bad usage or config.',
    '',
  ].join('\n');
}
