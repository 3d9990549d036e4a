/**
 * Pretrained SAEs by name: both registry layouts, the shipped list, user files, and
 * fromPretrained against a loopback hub serving a small release (an SAE in SAELens v1.5's
 * layout with sparsity, and a v6 SAE with expected_average_only_in + norm_scaling_factor).
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { hubConfig } from '../../src/hub/config.js';
import { fromPretrained, resolvePretrained } from '../../src/sae/pretrained/fromPretrained.js';
import { bundledRegistry, parseRegistry, pretrainedRegistry, REGISTRY_ENV } from '../../src/sae/pretrained/registry.js';
import { loadSae } from '../../src/sae/saeFolder.js';
import { FakeHub } from '../helpers/fakeHub.js';
import { setupTf } from '../helpers/tf.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-pretrained-'));
let hub: FakeHub;
const repoDir = path.join(tmp, 'repo');
export const TINY_RELEASE_YAML = `
tiny-release:
  repo_id: someone/tiny-release
  model: tiny-gpt2-sotu
  conversion_func: null
  links:
    model: https://example.invalid/tiny
  config_overrides:
    dataset_path: local/austen
  saes:
  - id: blocks.1.hook_resid_pre
    path: layer1
    l0: 9.5
    variance_explained: 0.82
    neuronpedia: tiny-gpt2/1-res
  - id: v6-normed
    path: v6/normed
    norm_scaling_factor: 2.5
  - id: v6-unnormed
    path: v6/normed
tiny-other-format:
  repo_id: someone/tiny-release
  model: tiny-gpt2-sotu
  conversion_func: gemma_2
  saes:
  - id: x
    path: layer1
`;

test.before(async () => {
  await setupTf();
  mkdirSync(path.join(repoDir, 'v6'), { recursive: true });
  cpSync('test/fixtures/analysis/sae', path.join(repoDir, 'layer1'), { recursive: true });
  cpSync('test/fixtures/sae/saelens_v6', path.join(repoDir, 'v6', 'normed'), { recursive: true });
  const cfgPath = path.join(repoDir, 'v6', 'normed', 'cfg.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.normalize_activations = 'expected_average_only_in';
  writeFileSync(cfgPath, JSON.stringify(cfg));
  hub = await FakeHub.start({ 'models/someone/tiny-release': repoDir });
});
test.after.always(async () => {
  await hub?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const hubOpts = (name: string) => hubConfig({}, { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, name), HF_HUB_CACHE: path.join(tmp, name, 'hub') });

test('the shipped registry: SAELens v6.18.0 list, parsed lazily, the upstream YAML slip reported not fatal', (t) => {
  const reg = bundledRegistry();
  t.is(reg.releases.size, 73);
  const jb = reg.releases.get('gpt2-small-res-jb')!;
  t.is(jb.repoId, 'jbloom/GPT2-Small-SAEs-Reformatted');
  t.is(jb.conversionFunc, null);
  t.deepEqual(jb.configOverrides, { model_from_pretrained_kwargs: { center_writing_weights: true } });
  t.like(jb.saes[0], { id: 'blocks.0.hook_resid_pre', path: 'blocks.0.hook_resid_pre', l0: 10, neuronpedia: 'gpt2-small/0-res-jb' });
  t.true(reg.warnings.some((w) => w.includes('gpt2-small-res_scefr-ajt') && w.includes('ignored keys')));
  // numeric folder names (path: 0) are folder names
  t.is(reg.releases.get('mntss-gemma-2-2b-2.5m-clt-as-per-layer')!.saes[0]!.path, '0');
  t.is(resolvePretrained('gpt2-small-res-jb', 'blocks.8.hook_resid_pre', reg).folder, 'blocks.8.hook_resid_pre');
  t.throws(() => resolvePretrained('gpt2-small-res-jb', 'nope', reg), { message: /ID nope not found in release gpt2-small-res-jb\. Valid IDs are blocks\.0\.hook_resid_pre, .*\(13 in all\)/ });
  t.throws(() => resolvePretrained('gpt2-smal-res-jb', 'x', reg), { message: /no pretrained SAE release "gpt2-smal-res-jb"/ });
  // a name with '/' that is not a release is a hub repo, the id its folder
  t.like(resolvePretrained('someone/else', 'a/b/', reg), { repoId: 'someone/else', folder: 'a/b', loader: 'sae_lens' });
});

test('both layouts parse to the same registry; user files add and replace releases; bad files name the field', (t) => {
  const current = parseRegistry(TINY_RELEASE_YAML, 'current.yaml');
  const v15Text = 'SAE_LOOKUP:\n' + TINY_RELEASE_YAML.split('\n').map((l) => (l ? `  ${l}` : l)).join('\n');
  const v15 = parseRegistry(v15Text, 'v15.yaml');
  const strip = (r: typeof current) => [...r.releases.values()].map(({ source: _s, ...rest }) => rest);
  t.deepEqual(strip(v15), strip(current));
  t.like(current.releases.get('tiny-release')!.saes[0], { l0: 9.5, varianceExplained: 0.82, neuronpedia: 'tiny-gpt2/1-res' });

  const f = path.join(tmp, 'mine.yaml');
  writeFileSync(f, TINY_RELEASE_YAML.replace('tiny-other-format', 'gpt2-small-res-jb'));
  const merged = pretrainedRegistry({ env: { [REGISTRY_ENV]: f } });
  t.is(merged.releases.size, 74);
  t.is(merged.releases.get('gpt2-small-res-jb')!.source, f);
  t.is(pretrainedRegistry({ files: [f], noBundled: true, env: {} }).releases.size, 2);

  t.throws(() => parseRegistry('r:\n  repo_id: a/b\n  model: m\n  saes: {}\n', 'bad.yaml'), { message: 'bad.yaml: release "r": "saes" must be a list' });
  t.throws(() => parseRegistry('r:\n  repo_id: a/b\n  model: m\n  sae: []\n', 'bad.yaml'), { message: /bad.yaml: release "r": unknown key "sae"/ });
  t.throws(() => parseRegistry('r:\n  repo_id: a/b\n  model: m\n  saes:\n  - id: x\n    path: p\n    l0: lots\n', 'bad.yaml'), { message: /saes\[0\] \(x\): "l0" must be a number/ });
  t.throws(() => parseRegistry('r: [1\n', 'bad.yaml'), { message: /bad.yaml: not valid YAML/ });
  t.throws(() => pretrainedRegistry({ files: [path.join(tmp, 'absent.yaml')], env: {} }), { message: /absent.yaml: cannot read/ });
});

test.serial('fromPretrained: a release from the fake hub: SAE, config with overrides and Neuronpedia id, sparsity', async (t) => {
  const registry = parseRegistry(TINY_RELEASE_YAML, 'tiny.yaml');
  const before = tf.memory().numTensors;
  const p = await fromPretrained('tiny-release', 'blocks.1.hook_resid_pre', { registry, hub: hubOpts('hf1') });
  t.teardown(() => p.sae.dispose());
  t.true(p.folder.startsWith(path.join(tmp, 'hf1', 'hub', 'models--someone--tiny-release', 'snapshots')));
  t.is(p.sae.cfg.dSae, 64);
  t.is(p.sparsity!.length, 64);
  t.is(p.cfgDict['dataset_path'], 'local/austen');
  t.is(p.cfgDict['neuronpedia_id'], 'tiny-gpt2/1-res');
  t.is(p.cfgDict['hook_point'], 'blocks.1.hook_resid_pre');
  const local = await loadSae('test/fixtures/analysis/sae');
  t.deepEqual(Array.from(p.sae.W_dec.dataSync()), Array.from(local.W_dec.dataSync()));
  local.dispose();
  t.is(tf.memory().numTensors, before + Object.keys(p.sae.variables()).length);

  // a hub repo id not in the registry: its folder, the sae_lens loader, no overrides
  const direct = await fromPretrained('someone/tiny-release', 'layer1', { registry, hub: hubOpts('hf1') });
  t.teardown(() => direct.sae.dispose());
  t.is(direct.cfgDict['dataset_path'], 'sotu');
  t.is(direct.target.release, undefined);

  // offline: from the cache only
  const offline = await fromPretrained('tiny-release', 'blocks.1.hook_resid_pre', { registry, hub: { ...hubOpts('hf1'), offline: true } });
  offline.sae.dispose();
  await t.throwsAsync(fromPretrained('tiny-release', 'v6-normed', { registry, hub: { ...hubOpts('hf-empty'), offline: true } }), { message: /offline|cache/i });
});

test.serial('fromPretrained: norm_scaling_factor folded as SAELens does (W_enc·s, W_dec/s, b_dec/s, normalize_activations none); warnings and unsupported loaders', async (t) => {
  const registry = parseRegistry(TINY_RELEASE_YAML, 'tiny.yaml');
  const raw = await loadSae('test/fixtures/sae/saelens_v6');
  const p = await fromPretrained('tiny-release', 'v6-normed', { registry, hub: hubOpts('hf2') });
  t.teardown(() => {
    raw.dispose();
    p.sae.dispose();
  });
  t.is(p.foldedNormScalingFactor, 2.5);
  t.is(p.cfgDict['normalize_activations'], 'none');
  const close = (a: tf.Tensor, b: tf.Tensor, s: number) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, tf.mul(b, s)))).dataSync()[0]!);
  t.true(close(p.sae.W_enc, raw.W_enc, 2.5) < 1e-6);
  t.true(close(p.sae.W_dec, raw.W_dec, 1 / 2.5) < 1e-6);
  t.true(close(p.sae.b_dec, raw.b_dec, 1 / 2.5) < 1e-6);

  const warnings: string[] = [];
  const q = await fromPretrained('tiny-release', 'v6-unnormed', { registry, hub: hubOpts('hf2'), warn: (m) => warnings.push(m) });
  q.sae.dispose();
  t.is(q.cfgDict['normalize_activations'], 'expected_average_only_in');
  t.regex(warnings[0]!, /norm_scaling_factor not found for tiny-release and v6-unnormed/);

  const n = hub.requests.length;
  await t.throwsAsync(fromPretrained('tiny-other-format', 'x', { registry, hub: hubOpts('hf2') }), {
    message: /release "tiny-other-format", SAE "x": its loader \(conversion_func\) "gemma_2" is not supported by sae-rx \(supported: sae_lens\)/,
  });
  t.is(hub.requests.length, n, 'no download for an unsupported loader');
  const bad = parseRegistry(TINY_RELEASE_YAML.replace('dataset_path: local/austen', 'd_sae: 32'), 'tiny.yaml');
  await t.throwsAsync(fromPretrained('tiny-release', 'blocks.1.hook_resid_pre', { registry: bad, hub: hubOpts('hf2') }), {
    message: /config_overrides sets "d_sae" to 32 \(cfg.json has 64\), which changes how the SAE computes/,
  });
});
