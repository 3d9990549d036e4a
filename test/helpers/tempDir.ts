/**
 * Temporary folders for tests that always go away: made under os.tmpdir(), removed by the
 * test's teardown (which ava runs whether the test passed, failed or threw). Every test that
 * needs a scratch folder takes it from here; test/tempHygiene.test.ts checks that a test run
 * leaves nothing behind in the temp directory.
 */
import type { ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A fresh folder, removed when `t` ends. */
export function tempDir(t: ExecutionContext, prefix = 'sae-rx-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh folder for a whole test file (test.before), removed by test.after.always. */
export function fileTempDir(after: (fn: () => void) => void, prefix = 'sae-rx-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
