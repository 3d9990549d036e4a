/**
 * `sae-rx pretrained` by release name: lists the registry's releases, a release's SAE ids (L0,
 * Neuronpedia id), loads RELEASE SAE_ID from a loopback hub; a user registry file via --registry.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { FakeHub } from '../helpers/fakeHub.js';
import { TINY_GPT2_DIR } from '../helpers/tinyGpt2.js';
import { jsonLines, runMain } from './helpers.js';

const HAVE_GPT2 = existsSync(path.join(TINY_GPT2_DIR, 'model.safetensors'));

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-cli-pretrained-'));
let hub: FakeHub;
const registry = path.join(tmp, 'my_saes.yaml');

test.before(async () => {
  const repo = path.join(tmp, 'repo');
  mkdirSync(repo, { recursive: true });
  cpSync('test/fixtures/analysis/sae', path.join(repo, 'layer1'), { recursive: true });
  // the SAE's config names a model the same hub serves
  const cfgPath = path.join(repo, 'layer1', 'cfg.json');
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), model_name: 'someone/tiny-gpt2' }));
  hub = await FakeHub.start({ 'models/someone/tiny-release': repo, ...(HAVE_GPT2 ? { 'models/someone/tiny-gpt2': TINY_GPT2_DIR } : {}) });
  writeFileSync(
    registry,
    [
      'SAE_LOOKUP:',
      '  tiny-release:',
      '    repo_id: someone/tiny-release',
      '    model: tiny-gpt2-sotu',
      '    conversion_func: null',
      '    saes:',
      '      - id: blocks.1.hook_resid_pre',
      '        path: layer1',
      '        l0: 9.5',
      '        neuronpedia: tiny-gpt2/1-res',
      '',
    ].join('\n'),
  );
});
test.after.always(async () => {
  await hub?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const env = () => ({ HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf'), HF_HUB_CACHE: path.join(tmp, 'hf', 'hub'), HF_TOKEN: '', HF_HUB_OFFLINE: '', SAE_RX_PRETRAINED_YAML: '' });

test.serial('pretrained lists the releases, then one release\'s SAE ids with L0 and Neuronpedia id', async (t) => {
  const all = await runMain(['pretrained', '--registry', registry], { env: env() });
  t.is(all.code, 0, all.stderr);
  t.regex(all.stdout, /^74 releases/);
  t.regex(all.stdout, /^\s+gpt2-small-res-jb\s+gpt2-small, 13 SAEs, jbloom\/GPT2-Small-SAEs-Reformatted$/m);
  t.regex(all.stdout, /^\s+tiny-release\s+tiny-gpt2-sotu, 1 SAEs, someone\/tiny-release$/m);
  const jb = await runMain(['--json', 'pretrained', 'gpt2-small-res-jb'], { env: env() });
  t.is(jb.code, 0, jb.stderr);
  const recs = jsonLines(jb.stdout);
  t.is(recs.length, 13);
  t.like(recs[8], { type: 'release_sae', id: 'blocks.8.hook_resid_pre', l0: 60, neuronpedia: 'gpt2-small/8-res-jb' });
  const mine = await runMain(['pretrained', 'tiny-release'], { env: { ...env(), SAE_RX_PRETRAINED_YAML: registry } });
  t.regex(mine.stdout, /blocks\.1\.hook_resid_pre\s+L0 9\.5\s+neuronpedia tiny-gpt2\/1-res/);
});

test.serial('pretrained RELEASE SAE_ID loads from the hub; unknown names and unsupported loaders are clear errors', async (t) => {
  const r = await runMain(['--json', 'pretrained', 'tiny-release', 'blocks.1.hook_resid_pre', '--registry', registry], { env: env() });
  t.is(r.code, 0, r.stderr);
  const rec = jsonLines(r.stdout)[0]!;
  t.like(rec, { type: 'sae', release: 'tiny-release', sae_id: 'blocks.1.hook_resid_pre', repo_id: 'someone/tiny-release', neuronpedia_id: 'tiny-gpt2/1-res', d_sae: 64, dead_features: 0 });
  t.true(String(rec['path']).startsWith(path.join(tmp, 'hf', 'hub', 'models--someone--tiny-release')));
  const bad = await runMain(['pretrained', 'tiny-release', 'blocks.9', '--registry', registry], { env: env() });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /ID blocks\.9 not found in release tiny-release\. Valid IDs are blocks\.1\.hook_resid_pre/);
  const unknown = await runMain(['pretrained', 'no-such-release'], { env: env() });
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /no-such-release is not a release of the registry/);
  const n = hub.requests.length;
  const gemma = await runMain(['pretrained', 'gemma-scope-2b-pt-res', 'layer_0/width_16k/average_l0_105'], { env: env() });
  t.is(gemma.code, 2);
  t.regex(gemma.stderr, /loader \(conversion_func\) "gemma_2" is not supported by sae-rx/);
  t.is(hub.requests.length, n);
});

(HAVE_GPT2 ? test.serial : test.skip)('from a release name to dashboards in two commands (the README\'s), model and SAE from the hub', async (t) => {
  const e = { ...env(), SAE_RX_PRETRAINED_YAML: registry };
  const list = await runMain(['pretrained', 'tiny-release'], { env: e });
  t.is(list.code, 0, list.stderr);
  const id = /^\s+(\S+)\s+L0/m.exec(list.stdout)![1]!;
  t.is(id, 'blocks.1.hook_resid_pre');
  const out = path.join(tmp, 'dash.html');
  const r = await runMain(['--json', 'dashboards', 'tiny-release', id, '--dataset', path.resolve('../shared/data/austen.txt'), '--features', '0:4', '--tokens', '256', '--batch-size', '4', '--out', out], { env: e });
  t.is(r.code, 0, r.stderr);
  t.like(jsonLines(r.stdout).find((x) => x['type'] === 'dashboards'), { path: out, features: 4 });
  t.true(readFileSync(out, 'utf8').includes('blocks.1.hook_resid_pre'));
  const noId = await runMain(['dashboards', 'tiny-release', '--dataset', 'a/b'], { env: e });
  t.is(noId.code, 2);
  t.regex(noId.stderr, /tiny-release is a release: give one of its SAE ids/);
});
