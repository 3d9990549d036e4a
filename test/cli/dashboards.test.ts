/**
 * `sae-rx dashboards` as a user runs it: an SAE folder of the shared tiny GPT-2, a local text
 * dataset, a feature range; the HTML file it writes holds one dashboard per feature.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseFeatureSpec } from '../../src/cli/commands/dashboards.js';
import { REPO, jsonLines, runMain } from './helpers.js';

const SHARED = path.resolve(REPO, '../shared');
const GPT2 = path.join(SHARED, 'models/tiny-gpt2-sotu');
const AUSTEN = path.join(SHARED, 'data/austen.txt');
const SAE = path.join(REPO, 'test/fixtures/evals/sae'); // tiny-gpt2 blocks.1.hook_resid_pre, d_sae 256
const haveGpt2 = existsSync(path.join(GPT2, 'model.safetensors')) && existsSync(AUSTEN);

let tmp: string;
test.before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-dashboards-'));
});
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

(haveGpt2 ? test : test.skip)('dashboards SAE_DIR --dataset --features writes one HTML file with every chosen feature', async (t) => {
  const out = path.join(tmp, 'sub', 'dash.html');
  const r = await runMain(['--json', 'dashboards', SAE, '--model', GPT2, '--dataset', AUSTEN, '--features', '3,10:14', '--tokens', '1000', '--batch-size', '8', '--out', out]);
  t.is(r.code, 0, r.stderr);
  const rec = jsonLines(r.stdout).find((x) => x['type'] === 'dashboards')!;
  t.is(rec['path'], out);
  t.is(rec['features'], 5);
  t.is(rec['tokens'], 1024); // 8 batches of 8×16
  t.regex(r.stderr, /dashboards \[#+\] 1,024\/1,024 tokens/, 'progress bar reaches the end');
  const html = readFileSync(out, 'utf8');
  t.deepEqual([...html.matchAll(/<section class="feature" id="f(\d+)"/g)].map((m) => Number(m[1])), [3, 10, 11, 12, 13]);
  t.regex(html, /blocks\.1\.hook_resid_pre/);
  t.false(/src="http|href="http/.test(html));
});

(haveGpt2 ? test : test.skip)('dashboards: clear errors for a bad SAE folder, feature spec or dataset', async (t) => {
  let r = await runMain(['dashboards', tmp, '--dataset', AUSTEN]);
  t.is(r.code, 2);
  t.regex(r.stderr, /not an SAE folder \(no cfg\.json\)/);
  r = await runMain(['dashboards', SAE, '--dataset', AUSTEN, '--features', '250:300', '--model', GPT2]);
  t.is(r.code, 2);
  t.regex(r.stderr, /feature 256 is not in \[0, d_sae=256\)/);
  r = await runMain(['dashboards', SAE, '--features', '0:2']);
  t.is(r.code, 2);
  t.regex(r.stderr, /needs --dataset/);
});

test('parseFeatureSpec: ranges are end-exclusive, lists and errors', (t) => {
  t.deepEqual(parseFeatureSpec('0:3'), [0, 1, 2]);
  t.deepEqual(parseFeatureSpec('5, 1:3,9'), [5, 1, 2, 9]);
  t.throws(() => parseFeatureSpec('3:3'), { message: /empty/ });
  t.throws(() => parseFeatureSpec('a'), { message: /not an index or a range/ });
  t.throws(() => parseFeatureSpec('1,0:2'), { message: /twice/ });
});
