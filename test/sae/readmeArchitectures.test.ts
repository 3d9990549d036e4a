/**
 * The README's architecture table lists every registered architecture with every field of its
 * field table and that field's default, so the table cannot drift from the registry.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultOf } from '../../src/config/fields.js';
import { ARCHITECTURES } from '../../src/sae/architectures/registry.js';

const readme = fs.readFileSync(path.resolve('README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## SAE architectures'), readme.indexOf('### Which SAE folders load'));
const rows = new Map(
  section
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => [/^\| `([^`]+)`/.exec(l)![1]!, l] as const),
);

test('README: one table row per registered architecture, no row for an unregistered one', (t) => {
  t.deepEqual([...rows.keys()].sort(), ARCHITECTURES.map((a) => a.name).sort());
});

/** The fields cell of an architecture's row and, for "as `other` + …", the other's cells (recursively). */
function fieldCells(name: string, seen = new Set<string>()): string[] {
  if (seen.has(name)) return [];
  seen.add(name);
  const cell = (rows.get(name) ?? '').split(' | ')[2] ?? '';
  const inherited = /^as `([^`]+)`/.exec(cell)?.[1];
  return [cell, ...(inherited ? fieldCells(inherited, seen) : [])];
}

test('README: each row names every field of the architecture with its default (directly or "as <other> + …")', (t) => {
  for (const a of ARCHITECTURES) {
    const cells = fieldCells(a.name);
    for (const [name, spec] of Object.entries(a.fields)) {
      const d = defaultOf(spec);
      const shown = `\`${name}\` (${typeof d === 'string' ? `"${d}"` : JSON.stringify(d)}`;
      t.true(cells.some((c) => c.includes(shown)), `${a.name}: README lacks ${shown})`);
    }
  }
});
