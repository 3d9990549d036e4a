/**
 * The README's TypeScript blocks run as written (issue #11 item 7): each ```ts block is saved
 * in a fresh folder inside the clone, as a user would save it, and run with `tsx` from the
 * repository root; `sae-rx` resolves through tsconfig.json's `paths`, with no build step. The
 * only changes are to values whose line says "(README test: X)": X itself, or a temporary
 * folder for "a temp folder". The blocks use the tiny GPT-2 in ../shared; without it they are
 * skipped, saying so.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './helpers/tempDir.js';

const root = path.resolve('.');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
const MARKED = /^(\s*(?:const|let) \w+ = )(.+?);(\s*\/\/.*\(README test: (.+?)\).*)$/;

/** The block with its marked values replaced; `tmp` stands in for "a temp folder". */
function forTest(block: string, tmp: string): { code: string; replaced: string[] } {
  const replaced: string[] = [];
  const code = block
    .split('\n')
    .map((line) => {
      const m = MARKED.exec(line);
      if (!m) return line;
      const value = m[4] === 'a temp folder' ? JSON.stringify(tmp) : m[4]!;
      replaced.push(`${m[1]!.trim()} ${m[2]} → ${value}`);
      return `${m[1]}${value};${m[3]}`;
    })
    .join('\n');
  return { code, replaced };
}

test('the README has at least the library block, and its marked values are the only ones a test may change', (t) => {
  t.true(blocks.length >= 1, 'no ```ts block found in README.md');
  const lib = blocks.find((b) => b.includes("from 'sae-rx'"));
  t.truthy(lib, 'the library block imports from the package name');
  const { replaced } = forTest(lib!, '/tmp/x');
  t.deepEqual(replaced, ["const runDir = 'runs/my-sae' → \"/tmp/x\"", 'const steps = 600 → 40']);
});

const needs = ['../shared/models/tiny-gpt2-sotu', '../shared/data/austen.txt'].map((p) => path.resolve(root, p));
const missing = needs.filter((p) => !fs.existsSync(p));

blocks.forEach((block, i) => {
  const title = `README ts block ${i + 1} runs as written (tsx, from the repository root)`;
  const usesShared = block.includes('../shared/');
  if (usesShared && missing.length > 0) {
    test.skip(`${title} — skipped: ${missing.join(', ')} absent (it ships in ../shared)`, () => {});
    return;
  }
  test(title, (t) => {
    const tmp = tempDir(t, 'sae-rx-readme-');
    // Saved inside the clone, as a user would: bare imports (rxjs, sae-rx) resolve from here.
    const folder = fs.mkdtempSync(path.join(root, '.readme-snippet-'));
    t.teardown(() => fs.rmSync(folder, { recursive: true, force: true }));
    const file = path.join(folder, `block${i + 1}.ts`);
    const { code, replaced } = forTest(block, tmp);
    fs.writeFileSync(file, code);
    t.log(replaced.length > 0 ? `replaced: ${replaced.join('; ')}` : 'run unchanged');
    const run = spawnSync(process.execPath, [path.join(root, 'node_modules/tsx/dist/cli.mjs'), file], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true' },
      timeout: 240_000,
    });
    t.is(run.status, 0, `exit ${run.status} ${run.signal ?? ''}\n${run.stderr.slice(-3000)}\n${run.stdout.slice(-1500)}`);
    if (block.includes('jsonlSink(')) {
      const records = fs.readFileSync(path.join(tmp, 'records.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
      t.true(records.filter((r) => r.type === 'step').length >= 40, 'step records written');
      t.truthy(records.find((r) => r.type === 'done'), 'the run finished');
    }
  });
});
