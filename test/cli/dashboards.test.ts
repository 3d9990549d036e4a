/**
 * `sae-rx dashboards` as a user runs it: an SAE folder of the shared tiny GPT-2, a local text
 * dataset, a feature range; the HTML file it writes holds one dashboard per feature. And from a
 * release name to a dashboard in two commands, against a loopback hub serving the release.
 */
import test from 'ava';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseFeatureSpec } from '../../src/cli/commands/dashboards.js';
import { FakeHub } from '../helpers/fakeHub.js';
import { REPO, jsonLines, runMain } from './helpers.js';

const SHARED = path.resolve(REPO, '../shared');
const GPT2 = path.join(SHARED, 'models/tiny-gpt2-sotu');
const AUSTEN = path.join(SHARED, 'data/austen.txt');
const SAE = path.join(REPO, 'test/fixtures/evals/sae'); // tiny-gpt2 blocks.1.hook_resid_pre, d_sae 256
const haveGpt2 = existsSync(path.join(GPT2, 'model.safetensors')) && existsSync(AUSTEN);

let tmp: string;
let hub: FakeHub;
let registry: string;
test.before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-dashboards-'));
  // a release of one SAE (a trained tiny-GPT-2 SAE) on a loopback hub, named in a user registry
  const repo = path.join(tmp, 'repo');
  mkdirSync(repo, { recursive: true });
  cpSync(path.join(REPO, 'test/fixtures/analysis/sae'), path.join(repo, 'layer1'), { recursive: true });
  hub = await FakeHub.start({ 'models/someone/tiny-release': repo });
  registry = path.join(tmp, 'my_saes.yaml');
  writeFileSync(registry, ['SAE_LOOKUP:', '  tiny-release:', '    repo_id: someone/tiny-release', '    model: tiny-gpt2-sotu', '    conversion_func: null', '    saes:', '      - id: blocks.1.hook_resid_pre', '        path: layer1', ''].join('\n'));
});
test.after.always(async () => {
  await hub?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const hubEnv = () => ({ HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf'), HF_HUB_CACHE: path.join(tmp, 'hf', 'hub'), HF_TOKEN: '', HF_HUB_OFFLINE: '', SAE_RX_PRETRAINED_YAML: registry });

(haveGpt2 ? test : test.skip)('from a release name to a dashboard in two commands (pretrained RELEASE, dashboards RELEASE SAE_ID)', async (t) => {
  const list = await runMain(['pretrained', 'tiny-release'], { env: hubEnv() });
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /blocks\.1\.hook_resid_pre/);
  const out = path.join(tmp, 'release.html');
  const r = await runMain(['dashboards', 'tiny-release', 'blocks.1.hook_resid_pre', '--model', GPT2, '--dataset', AUSTEN, '--features', '0:4', '--tokens', '512', '--out', out], { env: hubEnv() });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /wrote .*release\.html: dashboards of 4 features over 512 tokens/);
  const html = readFileSync(out, 'utf8');
  t.is((html.match(/<section class="feature"/g) ?? []).length, 4);
  t.regex(html, /SAE tiny-release\/blocks\.1\.hook_resid_pre/);
  t.true(hub.requests.some((r) => r.url.includes('layer1/sae_weights.safetensors')), 'the SAE came from the hub');
});

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
  r = await runMain(['dashboards', 'no-such-release']);
  t.is(r.code, 2);
  t.regex(r.stderr, /give its SAE id too/);
});

test('parseFeatureSpec: ranges are end-exclusive, lists and errors', (t) => {
  t.deepEqual(parseFeatureSpec('0:3'), [0, 1, 2]);
  t.deepEqual(parseFeatureSpec('5, 1:3,9'), [5, 1, 2, 9]);
  t.throws(() => parseFeatureSpec('3:3'), { message: /empty/ });
  t.throws(() => parseFeatureSpec('a'), { message: /not an index or a range/ });
  t.throws(() => parseFeatureSpec('1,0:2'), { message: /twice/ });
});
