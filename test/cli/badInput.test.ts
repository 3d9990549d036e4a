/**
 * Bad input is a clear error before any work starts (issue 11, item 5), exit 2 for what the
 * user wrote and 1 for I/O, naming the field or file; a final SAE that cannot be written is a
 * failure (exit 1) naming the stage (item 2). Run in-process through `main` (no child process).
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileFormatError } from '../../src/errors.js';
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG } from '../../src/sae/SaeConfig.js';
import { loadSae, writeSaeFolder } from '../../src/sae/saeFolder.js';
import { setupTf } from '../helpers/tf.js';
import { REPO, runMain } from './helpers.js';

const TOY = path.join(REPO, 'test/fixtures/cli/toy.yaml');
const MODEL = path.resolve(REPO, '../shared/models/tiny-gpt2-sotu');
let tmp: string;
test.before(async () => {
  await setupTf();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-bad-input-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
};
const lm = (extra: string) => `kind: lm\nmodel_name: ${MODEL}\nhook_point: blocks.0.hook_resid_post\nd_in: 128\nlog_to_wandb: false\ncheckpoint_path: ${tmp}/lm-runs\n${extra}`;
/** Nothing was started: no model loaded, no toy model trained. */
const noWork = (stderr: string) => !/loading model|training the toy model/.test(stderr);

test.serial('an empty config file is an error naming the file (exit 2)', async (t) => {
  const r = await runMain(['train', file('empty.yaml', '\n# nothing\n')]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /empty\.yaml: the config file (is empty|holds no settings)/);
});

test.serial('duplicate keys in a JSON config are an error naming the key (exit 2)', async (t) => {
  const r = await runMain(['train', file('dup.json', '{"kind": "lm", "d_sae": 8,\n "d_sae": 16}'), '--dry-run']);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /dup\.json: duplicate key in JSON: .*unique/i);
});

test.serial('a missing local dataset path is an error before the model loads (exit 2)', async (t) => {
  const r = await runMain(['train', file('nodata.yaml', lm('dataset_path: ./no/such/austen.txt\n'))]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /dataset_path: \.\/no\/such\/austen\.txt: no such file or folder/);
  t.true(noWork(r.stderr), r.stderr);
});

test.serial("a wandb_id with '/' or '..' (the run folder's name) is an error naming the field (exit 2)", async (t) => {
  for (const id of ['../../escape', 'a/b']) {
    const r = await runMain(['train', file('wandb.yaml', lm(`dataset_path: ${REPO}/README.md\nwandb_id: "${id}"\n`)), '--dry-run']);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /wandb_id: .* must not contain '\/', '\\' or '\.\.'/);
  }
});

test.serial('a d_sae or train_batch_size beyond the memory here is an error before anything is allocated (exit 2)', async (t) => {
  const r = await runMain(['train', TOY, '--out', path.join(tmp, 'huge'), '--d-sae', '4000000000']);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /d_sae \/ train_batch_size: training needs at least [\d.]+ GiB .*d_sae 4000000000.*more than the [\d.]+ GiB of memory here/);
  t.true(noWork(r.stderr), r.stderr);
});

test.serial('an output folder that cannot be written is an I/O error naming it, before any work (exit 1)', async (t) => {
  const blocker = file('a-file', 'x');
  const r = await runMain(['train', TOY, '--out', path.join(blocker, 'run')]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /run folder .*a-file\/run cannot be written: a file is in the way of the path \(ENOTDIR\)/);
  t.true(noWork(r.stderr), r.stderr);
});

test.serial('a final SAE that cannot be written fails the run (exit 1) naming the stage; training itself ran', async (t) => {
  const out = path.join(tmp, 'lost-final');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'sae'), 'a file where the SAE folders go');
  const r = await runMain(['train', TOY, '--out', out, '--total-training-tokens', '5120', '--no-progress']);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /failed: trainSae\(sae\): writing the final SAE to .*lost-final\/sae\/final_5120: /);
  t.notRegex(r.stdout, /SAE sae: \(not saved\)/);
});

test.serial('a folder where a weights file should be is an error naming it', async (t) => {
  const dir = path.join(tmp, 'sae-folder');
  const sae = Sae.create({ ...DEFAULT_SAE_CONFIG, dIn: 4, dSae: 8, hookPoint: 'h' }, { seed: 1 });
  await writeSaeFolder(dir, sae.snapshot());
  sae.dispose();
  fs.rmSync(path.join(dir, 'sae_weights.safetensors'));
  fs.mkdirSync(path.join(dir, 'sae_weights.safetensors'));
  await t.throwsAsync(loadSae(dir), { instanceOf: FileFormatError, message: /sae_weights\.safetensors: is a folder, not a safetensors file/ });
});
