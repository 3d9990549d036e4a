/**
 * Test hygiene (issue #11): a check that cannot run is declared `test.skip` with its reason
 * (test/helpers/skip.ts), never a `t.pass()` that reports a pass without checking anything.
 * (That no test leaves folders in the temp directory is checked by `.ci/run`, which gives the
 * test run a temp directory of its own and fails when anything is left in it.)
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : files(p);
    return /\.(ts|mts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

test('no t.pass() stands in for a skipped check anywhere in test/', (t) => {
  const self = path.resolve('test/hygiene.test.ts');
  const hits = files(path.resolve('test'))
    .filter((f) => f !== self)
    .flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').flatMap((line, i) => (/\bt\.pass\(/.test(line) ? [`${path.relative('.', f)}:${i + 1}: ${line.trim()}`] : [])));
  t.deepEqual(hits, [], 'use test.skip with the reason in the title (test/helpers/skip.ts titled())');
});
