/**
 * Issue 11, item 2: a `sae-rx cache` run whose manifest cannot be written fails (exit 1) naming
 * the stage and the file, and leaves no temporary file beside it. Its own file: it patches
 * `fs.renameSync` for this worker only. In-process through `main`, tiny settings.
 */
import test from 'ava';
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { titled } from '../helpers/skip.js';
import { setupTf } from '../helpers/tf.js';
import { REPO, runMain } from './helpers.js';

const SHARED = path.resolve(REPO, '../shared');
const GPT2 = path.join(SHARED, 'models/tiny-gpt2-sotu');
const AUSTEN = path.join(SHARED, 'data/austen.txt');
const have = fs.existsSync(path.join(GPT2, 'model.safetensors')) && fs.existsSync(AUSTEN);

let tmp: string;
test.before(async () => {
  await setupTf();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-cache-manifest-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

(have ? test : test.skip)(
  titled('a cache manifest that cannot be written fails the run (exit 1) naming the stage and the file', have ? undefined : `${GPT2} or ${AUSTEN} absent (needs ../shared)`),
  async (t) => {
    const dir = path.join(tmp, 'cache');
    const cfg = path.join(tmp, 'cache.yaml');
    fs.writeFileSync(cfg, [
      `model_name: ${GPT2}`,
      'hook_point: blocks.0.hook_resid_pre',
      'd_in: 128',
      `dataset_path: ${AUSTEN}`,
      'is_dataset_tokenized: false',
      'context_size: 8',
      'store_batch_size: 2',
      'n_batches_in_buffer: 2',
      'training_tokens: 64',
      `new_cached_activations_path: ${dir}`,
    ].join('\n'));
    // A folder appears where manifest.json must go just before it is renamed into place (the
    // runner refuses a non-empty output folder at the start, so it cannot sit there earlier):
    // the operating system's own rename error is what the run must report.
    const cjsFs = createRequire(import.meta.url)('node:fs') as typeof fs;
    const rename = cjsFs.renameSync;
    cjsFs.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
      if (path.basename(String(to)) === 'manifest.json') fs.mkdirSync(path.join(String(to), 'in-the-way'), { recursive: true });
      return rename(from, to);
    };
    syncBuiltinESMExports();
    t.teardown(() => {
      cjsFs.renameSync = rename;
      syncBuiltinESMExports();
    });
    const r = await runMain(['cache', cfg, '--n-shuffles-final', '1']);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /failed: cacheActivationsRunner: writing the cache manifest \S*cache\/manifest\.json: E[A-Z]+/);
    t.true(fs.statSync(path.join(dir, 'manifest.json')).isDirectory());
    t.true(fs.existsSync(path.join(dir, '0.safetensors')), 'the shards written before stay');
    t.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temporary manifest left behind');
  },
);
