/**
 * The CLI's link to the runners (src/runners/) and evals (src/analysis/evals.ts), found at run
 * time: a build that lacks one still offers every other command, and the commands that need
 * the missing piece fail with a clear "not available" message instead of pretending.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NotAvailableError } from './errors.js';

/** A module of this package, by its path relative to src/ ("runners/toyModelRunner"), or undefined if absent. */
async function importOptional(rel: string): Promise<Record<string, unknown> | undefined> {
  const base = new URL(`../${rel}`, import.meta.url);
  const file = fileURLToPath(base);
  if (!existsSync(`${file}.ts`) && !existsSync(`${file}.js`)) return undefined;
  // Computed specifier: the module may not exist in this build, so it is not a static import.
  return (await import(`${base.href}.js`)) as Record<string, unknown>;
}

/**
 * The function `name` of one of the modules `rels` (the first that has it), or a
 * NotAvailableError saying what is missing.
 */
export async function optionalFunction<F extends (...args: never[]) => unknown>(
  what: string,
  name: string,
  rels: readonly string[],
): Promise<F> {
  for (const rel of rels) {
    const m = await importOptional(rel);
    const f = m?.[name];
    if (typeof f === 'function') return f as F;
  }
  throw new NotAvailableError(
    `${what} is not available in this build of sae-rx (no ${name} in ${rels.map((r) => `src/${r}.ts`).join(' or ')})`,
  );
}
