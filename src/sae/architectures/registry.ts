/**
 * The one list of SAE architectures (SAELens 6's `register_sae_class` /
 * `register_sae_training_class`, as an explicit list).
 *
 * How to add an architecture:
 *   1. Write one file in this folder exporting an `Architecture` (Architecture.ts says what it
 *      declares: config fields under SAELens 6's names, parameters and init, inference forward,
 *      the training forward's named loss terms, coefficients, hooks around the optimizer, the
 *      conversion applied when saving for inference, whether the sparse step is valid).
 *   2. Put its config field table in fieldTables.ts (tensor-free, so that decoding a config
 *      loads no backend) and take `fields` from there.
 *   3. Add it to `ARCHITECTURES` below.
 * Nothing else changes: `Sae`, the trainer, checkpoints, configs, `--help`, the records and the
 * tests that loop over every architecture pick it up by name. A name listed twice is an error
 * at load time.
 */
import { ConfigError } from '../../errors.js';
import type { Architecture } from './Architecture.js';
import { batchtopk } from './batchtopk.js';
import { ARCHITECTURE_FIELDS } from './fieldTables.js';
import { gated } from './gated.js';
import { jumprelu } from './jumprelu.js';
import { matryoshkaBatchtopk } from './matryoshkaBatchtopk.js';
import { standard } from './standard.js';
import { standardV6 } from './standardV6.js';
import { topk } from './topk.js';
import { TRANSCODERS } from './transcoder.js';

export const ARCHITECTURES: readonly Architecture[] = [standard, standardV6, topk, batchtopk, matryoshkaBatchtopk, jumprelu, gated, ...TRANSCODERS];

const BY_NAME: ReadonlyMap<string, Architecture> = (() => {
  checkUniqueNames(ARCHITECTURES);
  checkFieldTables(ARCHITECTURES);
  return new Map(ARCHITECTURES.map((a) => [a.name, a]));
})();

/** The registered architecture names, in registry order. */
export function architectureNames(): string[] {
  return ARCHITECTURES.map((a) => a.name);
}

/** Whether `name` is a registered architecture. */
export function hasArchitecture(name: string): boolean {
  return BY_NAME.has(name);
}

/** The architecture registered as `name`; a ConfigError that lists the known ones otherwise. */
export function architectureOf(name: string): Architecture {
  const a = BY_NAME.get(name);
  if (!a) throw new ConfigError(`architecture: unknown '${name}', expected one of ${architectureNames().join(', ')}`);
  return a;
}

/** Checks a list of architectures for duplicate names (the registry's own check, for tests and plugins). */
export function checkUniqueNames(list: readonly Architecture[]): void {
  const seen = new Set<string>();
  for (const a of list) {
    if (seen.has(a.name)) throw new ConfigError(`SAE architecture registry: '${a.name}' is registered twice`);
    seen.add(a.name);
  }
}

/**
 * The runner-config decoders accept the fields fieldTables.ts registers (without loading this
 * registry): each architecture must declare exactly that table, and be a transcoder there when
 * it is one here.
 */
export function checkFieldTables(list: readonly Architecture[]): void {
  const byName = new Map(ARCHITECTURE_FIELDS.map((e) => [e.name, e]));
  for (const a of list) {
    const e = byName.get(a.name);
    if (!e) throw new ConfigError(`SAE architecture registry: '${a.name}' has no field table in fieldTables.ts (ARCHITECTURE_FIELDS)`);
    if (e.fields !== a.fields) throw new ConfigError(`SAE architecture registry: '${a.name}' declares other fields than its table in fieldTables.ts`);
    if ((e.transcoder === true) !== (a.transcoder === true)) throw new ConfigError(`SAE architecture registry: '${a.name}' is ${a.transcoder ? '' : 'not '}a transcoder but fieldTables.ts says otherwise`);
  }
  const names = new Set(list.map((a) => a.name));
  const extra = ARCHITECTURE_FIELDS.filter((e) => !names.has(e.name)).map((e) => e.name);
  if (extra.length > 0) throw new ConfigError(`SAE architecture registry: fieldTables.ts has tables for ${extra.join(', ')}, which are not registered`);
}
