/**
 * `npm run example` lists the examples; `npm run example -- <name> [args]` runs one.
 * Each example module exports `description` and `main(args)`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ExampleModule {
  description: string;
  main: (args: string[]) => Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

export function exampleNames(): string[] {
  return fs
    .readdirSync(here)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .sort();
}

export async function loadExample(name: string): Promise<ExampleModule> {
  if (!exampleNames().includes(name)) throw new Error(`no example '${name}'; examples: ${exampleNames().join(', ')}`);
  return (await import(path.join(here, `${name}.ts`))) as ExampleModule;
}

async function cli(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--list' || name === '--help') {
    process.stdout.write('examples (npm run example -- <name>):\n');
    for (const n of exampleNames()) process.stdout.write(`  ${n.padEnd(10)} ${(await loadExample(n)).description}\n`);
    return;
  }
  await (await loadExample(name)).main(rest);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
