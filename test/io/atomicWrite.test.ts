import test from 'ava';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { withAtomicFile, writeDirAtomic, writeFileAtomic } from '../../src/io/atomicWrite.js';

let tmp: string;
test.before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sae-rx-atomic-'));
});
test.after.always(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const siblings = async (dir: string, prefix: string) => (await fsp.readdir(dir)).filter((f) => f.startsWith(prefix));

test('writeFileAtomic writes and replaces a file, leaving no temp files', async (t) => {
  const p = path.join(tmp, 'a.json');
  await writeFileAtomic(p, '{"v":1}');
  t.is(await fsp.readFile(p, 'utf8'), '{"v":1}');
  await writeFileAtomic(p, new Uint8Array([1, 2, 3]));
  t.deepEqual([...(await fsp.readFile(p))], [1, 2, 3]);
  t.deepEqual(await siblings(tmp, '.a.json'), []);
});

test('a write that fails midway leaves the old file and no temp file', async (t) => {
  const p = path.join(tmp, 'b.bin');
  await writeFileAtomic(p, 'old');
  await t.throwsAsync(
    withAtomicFile(p, async (fh) => {
      await fh.write('half of the new con');
      throw new Error('crash');
    }),
    { message: 'crash' },
  );
  t.is(await fsp.readFile(p, 'utf8'), 'old');
  t.deepEqual(await siblings(tmp, '.b.bin'), []);
});

test('a crash mid-write (no cleanup) never leaves a half file under the final name', async (t) => {
  // simulate a crash: observe the directory while the writer is paused halfway
  const p = path.join(tmp, 'c.bin');
  let release!: () => void;
  const paused = new Promise<void>((r) => (release = r));
  let seen: string[] = [];
  const w = withAtomicFile(p, async (fh) => {
    await fh.write('partial');
    seen = await fsp.readdir(tmp);
    await paused;
  });
  while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
  t.false(seen.includes('c.bin'));
  t.is(seen.filter((f) => f.startsWith('.c.bin.tmp-')).length, 1);
  release();
  await w;
  t.is(await fsp.readFile(p, 'utf8'), 'partial');
});

test('writeDirAtomic builds a folder under a temp name, then renames; replaces an existing one', async (t) => {
  const d = path.join(tmp, 'ckpt');
  await writeDirAtomic(d, async (dir) => {
    t.not(path.resolve(dir), path.resolve(d));
    t.false(existsSync(d));
    await fsp.writeFile(path.join(dir, 'one.txt'), '1');
    await fsp.mkdir(path.join(dir, 'sub'));
    await fsp.writeFile(path.join(dir, 'sub', 'two.txt'), '2');
  });
  t.is(await fsp.readFile(path.join(d, 'sub', 'two.txt'), 'utf8'), '2');
  await writeDirAtomic(d, async (dir) => {
    // the old folder is still complete while the new one is being built
    t.is(await fsp.readFile(path.join(d, 'one.txt'), 'utf8'), '1');
    await fsp.writeFile(path.join(dir, 'new.txt'), 'n');
  });
  t.deepEqual((await fsp.readdir(d)).sort(), ['new.txt']);
  t.deepEqual(await siblings(tmp, '.ckpt'), []);
});

test('writeDirAtomic: a failing fill leaves the old folder untouched and removes the temp folder', async (t) => {
  const d = path.join(tmp, 'keep');
  await writeDirAtomic(d, async (dir) => fsp.writeFile(path.join(dir, 'x'), 'old'));
  await t.throwsAsync(
    writeDirAtomic(d, async (dir) => {
      await fsp.writeFile(path.join(dir, 'x'), 'ne');
      throw new Error('disk full');
    }),
    { message: 'disk full' },
  );
  t.is(await fsp.readFile(path.join(d, 'x'), 'utf8'), 'old');
  t.deepEqual(await siblings(tmp, '.keep'), []);
});
