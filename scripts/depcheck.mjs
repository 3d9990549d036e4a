#!/usr/bin/env node
/**
 * The layering check of DESIGN.md §1 (`npm run depcheck`, and a step of `.ci/run`).
 *
 * 1. dependency-cruiser with the rules of `.dependency-cruiser.cjs`: no upward import between
 *    the layers, no module cycle, no folder outside the layers (type-only imports count).
 * 2. Folder cycles, which module-level rules cannot see: two folders of one layer must not
 *    import each other (sources/ -> operators/ -> sources/ is a cycle even when no single module
 *    closes it).
 *
 * 3. No `export *` in src/: src/index.ts and the barrels name what they export, so nothing becomes
 *    public API by accident (a module-level switch, a helper).
 *
 * Prints one line per violation and a summary line starting with `depcheck:`; exits 1 on any
 * violation.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const run = spawnSync(process.execPath, [bin, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
  cwd: root,
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
});
let result;
try {
  result = JSON.parse(run.stdout);
} catch {
  console.error(run.stderr || run.stdout);
  console.log('depcheck: FAILED — dependency-cruiser did not produce a result');
  process.exit(1);
}

const problems = [];
for (const v of result.summary.violations) {
  if (v.rule.name === 'unplaced-folder') continue; // reported below, also for modules without imports
  const where = v.cycle ? [v.from, ...v.cycle.map((c) => (typeof c === 'string' ? c : c.name))].join(' -> ') : `${v.from} -> ${v.to}`;
  problems.push(`${v.rule.name}: ${where}`);
}

// A module with no imports escapes the rules above; a folder outside the layers must not.
const config = createRequire(import.meta.url)(join(root, '.dependency-cruiser.cjs'));
const placed = new RegExp(config.forbidden.find((r) => r.name === 'unplaced-folder').from.pathNot);
const unplaced = new Set();
for (const m of result.modules) {
  const f = /^src\/[^/]+\//.exec(m.source)?.[0];
  if (f && !placed.test(m.source) && !unplaced.has(f)) {
    unplaced.add(f);
    problems.push(`unplaced-folder: ${f} (e.g. ${m.source}) has no layer in .dependency-cruiser.cjs`);
  }
}

// Folder graph: the top-level folder of src/ a module lives in (src/sae/architectures/x.ts -> sae).
const folderOf = (p) => {
  const m = /^src\/([^/]+)\//.exec(p);
  return m ? m[1] : undefined;
};
const edges = new Map(); // folder -> Map(folder -> example "a -> b")
for (const m of result.modules) {
  const a = folderOf(m.source);
  if (!a) continue;
  for (const d of m.dependencies) {
    const b = folderOf(d.resolved);
    if (!b || a === b) continue;
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.get(a).has(b)) edges.get(a).set(b, `${m.source} -> ${d.resolved}${d.dependencyTypes.includes('type-only') ? ' (type)' : ''}`);
  }
}
// Tarjan's strongly connected components: every component of more than one folder is a cycle.
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
let counter = 0;
const components = [];
const visit = (v) => {
  index.set(v, counter);
  low.set(v, counter++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const c = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      c.push(w);
    } while (w !== v);
    if (c.length > 1) components.push(c.sort());
  }
};
for (const v of edges.keys()) if (!index.has(v)) visit(v);
for (const c of components) {
  const inside = new Set(c);
  const examples = [];
  for (const a of c) for (const [b, ex] of edges.get(a) ?? []) if (inside.has(b)) examples.push(`    ${a}/ -> ${b}/: ${ex}`);
  problems.push(`folder-cycle: ${c.map((f) => `${f}/`).join(', ')} import each other\n${examples.join('\n')}`);
}

for (const m of result.modules) {
  if (!/^src\/.*\.ts$/.test(m.source)) continue;
  const lines = readFileSync(join(root, m.source), 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (/^\s*export\s+(type\s+)?\*/.test(line)) problems.push(`export-star: ${m.source}:${i + 1}: name the exports (${line.trim()})`);
  });
}

const { totalCruised, totalDependenciesCruised } = result.summary;
if (problems.length === 0) {
  console.log(`depcheck: OK — ${totalCruised} modules, ${totalDependenciesCruised} imports: no upward import, no cycle, no export * (rules: .dependency-cruiser.cjs)`);
} else {
  for (const p of problems) console.log(`  ${p}`);
  console.log(`depcheck: FAILED — ${problems.length} violation(s) of the layering of DESIGN.md §1 (rules: .dependency-cruiser.cjs)`);
  process.exit(1);
}
