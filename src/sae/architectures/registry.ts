/**
 * The one list of SAE architectures (SAELens 6's `register_sae_class` /
 * `register_sae_training_class`, as an explicit list).
 *
 * How to add an architecture:
 *   1. Write one file in this folder exporting an `Architecture` (Architecture.ts says what it
 *      declares: config fields under SAELens 6's names, parameters and init, inference forward,
 *      the training forward's named loss terms, coefficients, hooks around the optimizer, the
 *      conversion applied when saving for inference, whether the sparse step is valid).
 *   2. Add it to `ARCHITECTURES` below.
 * Nothing else changes: `Sae`, the trainer, checkpoints, configs, `--help`, the records and the
 * tests that loop over every architecture pick it up by name. A name listed twice is an error
 * at load time.
 */
import { registerArchitectureFields } from '../../config/architectureFields.js';
import { ConfigError } from '../../errors.js';
import type { Architecture } from './Architecture.js';
import { batchtopk } from './batchtopk.js';
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
  // the runner-config decoders (config/, a layer below) accept each architecture's fields
  for (const a of ARCHITECTURES) registerArchitectureFields(a.name, a.fields, { transcoder: a.transcoder === true });
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
