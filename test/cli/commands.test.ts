/**
 * The real `sae-rx` bin in child processes: help, hooks, a short toy training run (SAE folder,
 * records.jsonl, report.html, --json records), report, pretrained (local folder and a loopback
 * hub), eval and cache on the shared tiny GPT-2. Tests that need ../shared skip without it.
 */
import test from 'ava';
import { titled } from '../helpers/skip.js';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LANGUAGE_MODEL_FIELDS, TOY_MODEL_FIELDS } from '../../src/config/index.js';
import { DEFAULT_SAE_CONFIG, Sae, writeSaeFolder } from '../../src/sae/index.js';
import { FakeHub } from '../helpers/fakeHub.js';
import { startFakeWandb } from '../helpers/fakeWandb.js';
import { setupTf } from '../helpers/tf.js';
import { REPO, jsonLines, runMain, spawnCli } from './helpers.js';

const SHARED = path.resolve(REPO, '../shared');
const GPT2 = path.join(SHARED, 'models/tiny-gpt2-sotu');
const AUSTEN = path.join(SHARED, 'data/austen.txt');
const haveGpt2 = existsSync(path.join(GPT2, 'model.safetensors')) && existsSync(AUSTEN);
const TOY = path.join(REPO, 'test/fixtures/cli/toy.yaml');

let tmp: string;
/** An SAE folder for tiny-gpt2's blocks.1.hook_resid_pre (d_in 128), under tmp/saes/layer1. */
let saeRoot: string;
let hub: FakeHub;

test.before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-cli-'));
  await setupTf();
  saeRoot = path.join(tmp, 'saes');
  const sae = Sae.create(
    { ...DEFAULT_SAE_CONFIG, dIn: 128, dSae: 64, modelName: 'tiny-gpt2-sotu', hookPoint: 'blocks.1.hook_resid_pre', hookPointLayer: 1, contextSize: 32 },
    { seed: 3 },
  );
  // 4 features that never fired (log10 density -10), the rest at 1e-2
  const logSparsity = Float32Array.from({ length: 64 }, (_, i) => (i < 4 ? -10 : -2));
  await writeSaeFolder(path.join(saeRoot, 'layer1'), sae.snapshot(), { logSparsity });
  sae.dispose();
  // A hub model repo with a config.json only: `hooks` needs nothing else.
  const modelRepo = path.join(tmp, 'hub-model');
  mkdirSync(modelRepo);
  writeFileSync(path.join(modelRepo, 'config.json'), JSON.stringify({
    architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 50257, n_positions: 256, n_embd: 128, n_layer: 4, n_head: 4,
    activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: true,
  }));
  hub = await FakeHub.start({ 'models/someone/tiny-saes': saeRoot, 'models/someone/cfg-only-gpt2': modelRepo });
});
test.after.always(async () => {
  await hub?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('--help lists the commands; exit 0', async (t) => {
  const r = await runMain(['--help']);
  t.is(r.code, 0, r.stderr);
  for (const c of ['train', 'cache', 'eval', 'report', 'models', 'hooks', 'pretrained']) t.regex(r.stdout, new RegExp(`^  ${c}\\b`, 'm'));
  t.regex(r.stdout, /Exit codes: 0 done, 1 failure/);
});

test('train --help shows every config field with its default, from the codecs', async (t) => {
  const r = await spawnCli(['train', '--help']);
  t.is(r.code, 0, r.stderr);
  for (const k of [...Object.keys(LANGUAGE_MODEL_FIELDS), ...Object.keys(TOY_MODEL_FIELDS)]) {
    t.true(r.stdout.includes(`--${k.replace(/_/g, '-')} `), k);
  }
  t.regex(r.stdout, /--l1-coefficient\s+a number >= 0 \(a,b,… = sweep\)\s+default 0\.001/);
  t.regex(r.stdout, /--training-tokens\s+a positive integer\s+default 2e6/);
  t.regex(r.stdout, /--lr-scheduler-name\s+one of "constant" \| "cosineannealing" \| "cosineannealingwarmrestarts"/);
  t.regex(r.stdout, /--n-features\s+a positive integer\s+default 5/);
});

test('the bin exits 2 on a bad config, with a JSON error record under --json', async (t) => {
  const bad = path.join(tmp, 'bad.yaml');
  writeFileSync(bad, 'kind: toy\nn_hidden: [1, 2\n');
  const b = await spawnCli(['--json', 'train', bad, '--no-progress']);
  t.is(b.code, 2);
  t.regex(b.stderr, /bad\.yaml: not valid YAML/);
  t.is(jsonLines(b.stdout)[0]!.type, 'error');
});

(haveGpt2 ? test : test.skip)(titled('hooks lists tiny-gpt2 hook points with symbolic shapes (--json)', haveGpt2 ? undefined : `${GPT2} absent (needs ../shared)`), async (t) => {
  const r = await spawnCli(['--json', 'hooks', GPT2]);
  t.is(r.code, 0, r.stderr);
  const hooks = jsonLines(r.stdout);
  const byName = new Map(hooks.map((h) => [h.name as string, h.shape]));
  t.deepEqual(byName.get('blocks.0.hook_resid_pre'), ['batch', 'pos', 128]);
  t.deepEqual(byName.get('blocks.3.mlp.hook_post'), ['batch', 'pos', 512]);
  t.deepEqual(byName.get('blocks.2.attn.hook_pattern'), ['batch', 4, 'pos', 'pos']);
  t.deepEqual(byName.get('blocks.1.attn.hook_z'), ['batch', 'pos', 4, 32]);
  t.true(byName.has('ln_final.hook_normalized'));
  t.true(hooks.every((h) => h.type === 'hook'));
  // the summary line is human output: stderr
  t.regex(r.stderr, /gpt2, 4 layers, d_model 128/);
});

test('hooks of a hub repo: fetches config.json only, lists the same hook points', async (t) => {
  const env = { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf-hooks'), HF_HUB_CACHE: path.join(tmp, 'hf-hooks', 'hub'), HF_TOKEN: '', HF_HUB_OFFLINE: '' };
  hub.clearLog();
  const r = await runMain(['--json', 'hooks', 'someone/cfg-only-gpt2', '--filter', 'blocks.2.'], { env });
  t.is(r.code, 0, r.stderr);
  const byName = new Map(jsonLines(r.stdout).map((h) => [h.name as string, h.shape]));
  t.deepEqual(byName.get('blocks.2.attn.hook_pattern'), ['batch', 4, 'pos', 'pos']);
  t.deepEqual(byName.get('blocks.2.mlp.hook_post'), ['batch', 'pos', 512]);
  t.false(byName.has('blocks.1.hook_resid_pre'));
  t.regex(r.stderr, /cfg-only-gpt2: gpt2, 4 layers, d_model 128/);
  const files = hub.requests.filter((q) => q.url.includes('/resolve/')).map((q) => q.url.split('/').pop());
  t.deepEqual([...new Set(files)], ['config.json']);
  // neither a folder nor owner/name: a usage error
  const bad = await runMain(['hooks', 'no-such-thing'], { env });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /hooks: no-such-thing is neither a model folder nor a hub repo id/);
});

test('train a tiny toy config: SAE folder, records.jsonl, report.html; --json records on stdout; report rebuilds', async (t) => {
  const out = path.join(tmp, 'toy-run');
  const r = await spawnCli(['train', TOY, '--json', '--no-progress', '--out', out, '--l1-coefficient', '0.04']);
  t.is(r.code, 0, r.stderr);
  const recs = jsonLines(r.stdout);
  const steps = recs.filter((x) => x.type === 'step');
  t.is(steps.length, 200);
  t.is(steps[0]!.l1Coefficient, 0.04); // the override reached the trainer
  const done = recs.find((x) => x.type === 'done') as { path: string } | undefined;
  t.truthy(done);
  const result = recs[recs.length - 1] as { type: string; saes: Array<{ path: string; tokens: number }>; report: string; records: string };
  t.is(result.type, 'result');
  t.is(result.saes[0]!.tokens, 51_200);
  const saeDir = result.saes[0]!.path;
  for (const f of ['cfg.json', 'sae_weights.safetensors', 'sparsity.safetensors']) t.true(existsSync(path.join(saeDir, f)), f);
  const cfg = JSON.parse(readFileSync(path.join(saeDir, 'cfg.json'), 'utf8')) as Record<string, unknown>;
  t.is(cfg.d_in, 4);
  t.is(cfg.d_sae, 16);
  // records.jsonl holds the same records as stdout
  const file = jsonLines(readFileSync(path.join(out, 'records.jsonl'), 'utf8'));
  t.is(file.filter((x) => x.type === 'step').length, 200);
  t.true(readFileSync(path.join(out, 'report.html'), 'utf8').includes('<html'));
  t.is(JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')).l1_coefficient, 0.04);
  // human output went to stderr only
  t.regex(r.stderr, /toy-model run in/);

  // report: rebuild report.html from the run folder
  rmSync(path.join(out, 'report.html'));
  const rep = await runMain(['report', out]);
  t.is(rep.code, 0, rep.stderr);
  t.regex(rep.stdout, /report: .*report\.html/);
  t.true(existsSync(path.join(out, 'report.html')));
});

test('train logs to W&B when the config asks (loopback server); the API key is never printed', async (t) => {
  const key = 'local-' + '0123456789abcdef'.repeat(2) + '01234567';
  const wandb = await startFakeWandb({ apiKey: key, entity: 'me' });
  try {
    const out = path.join(tmp, 'wandb-run');
    const env = { WANDB_API_KEY: key, WANDB_BASE_URL: wandb.url, HOME: tmp };
    const r = await spawnCli(['train', TOY, '--out', out, '--log-to-wandb', '--wandb-project', 'cli-test', '--total-training-tokens', '12800'], { env });
    t.is(r.code, 0, r.stderr);
    t.deepEqual(wandb.problems, []);
    const runs = [...wandb.runs.values()];
    t.is(runs.length, 1);
    t.is(runs[0]!.project, 'cli-test');
    t.true(runs[0]!.complete);
    t.true(runs[0]!.history.length > 0);
    for (const text of [r.stdout, r.stderr, readFileSync(path.join(out, 'config.json'), 'utf8'), readFileSync(path.join(out, 'records.jsonl'), 'utf8')]) {
      t.false(text.includes(key));
    }
  } finally {
    await wandb.close();
  }
});

test('pretrained: lists and loads an SAE folder from a local folder', async (t) => {
  const [list, load] = await Promise.all([runMain(['pretrained', saeRoot]), spawnCli(['--json', 'pretrained', saeRoot, 'layer1'])]);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /SAE folders in .*:\n\s+layer1/);
  t.is(load.code, 0, load.stderr);
  const rec = jsonLines(load.stdout)[0]!;
  t.like(rec, { type: 'sae', d_in: 128, d_sae: 64, hook_point: 'blocks.1.hook_resid_pre', dead_features: 4, mean_log10_feature_density: -2 });
});

test('pretrained: downloads cfg.json, weights and sparsity from a hub repo, then loads', async (t) => {
  const env = { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf'), HF_HUB_CACHE: path.join(tmp, 'hf', 'hub'), HF_TOKEN: '', HF_HUB_OFFLINE: '' };
  const list = await runMain(['pretrained', 'someone/tiny-saes'], { env });
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^\s+layer1$/m);
  const load = await spawnCli(['--json', 'pretrained', 'someone/tiny-saes', 'layer1'], { env });
  t.is(load.code, 0, load.stderr);
  const rec = jsonLines(load.stdout)[0] as { path: string; d_sae: number; dead_features: number };
  t.is(rec.d_sae, 64);
  t.is(rec.dead_features, 4);
  t.true(rec.path.startsWith(path.join(tmp, 'hf', 'hub', 'models--someone--tiny-saes')));
  // a repo that is not there: a failure of the download stage, exit 1
  const missing = await runMain(['pretrained', 'someone/nothing-here', 'x'], { env });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /sae-rx: failed: downloading someone\/nothing-here\/x: /);
});

(haveGpt2 ? test : test.skip)(titled('eval: an SAE on tiny-gpt2 over two batches of Austen (--json)', haveGpt2 ? undefined : `${GPT2} absent (needs ../shared)`), async (t) => {
  const r = await spawnCli(['--json', 'eval', path.join(saeRoot, 'layer1'), '--model', GPT2, '--dataset', AUSTEN, '--batches', '2', '--batch-size', '2']);
  t.is(r.code, 0, r.stderr);
  const rec = jsonLines(r.stdout)[0] as { type: string; tokens: number; metrics: Record<string, number> };
  t.is(rec.type, 'eval');
  t.is(rec.tokens, 2 * 2 * 32);
  for (const k of ['ce_loss_score', 'ce_loss_without_sae', 'ce_loss_with_sae', 'l0', 'explained_variance']) t.true(Number.isFinite(rec.metrics[k]), k);
  // without --model, the SAE's model_name must name a folder or hub repo
  const noModel = await runMain(['eval', path.join(saeRoot, 'layer1'), '--dataset', AUSTEN], { env: { HF_HUB_OFFLINE: '1' } });
  t.is(noModel.code, 2);
  t.regex(noModel.stderr, /no --model given, and the SAE's model_name "tiny-gpt2-sotu" is not a model folder or hub repo here: give --model/);
});

(haveGpt2 ? test : test.skip)(titled('cache: tiny-gpt2 activations into safetensors shards', haveGpt2 ? undefined : `${GPT2} absent (needs ../shared)`), async (t) => {
  const dir = path.join(tmp, 'acts');
  const cfg = path.join(tmp, 'cache.yaml');
  writeFileSync(
    cfg,
    [
      `model_name: ${GPT2}`,
      'hook_point: blocks.1.hook_resid_pre',
      'd_in: 128',
      `dataset_path: ${AUSTEN}`,
      'is_dataset_tokenized: false',
      'context_size: 16',
      'store_batch_size: 4',
      'n_batches_in_buffer: 2',
      'training_tokens: 256',
      `new_cached_activations_path: ${dir}`,
    ].join('\n'),
  );
  const r = await spawnCli(['--json', 'cache', cfg, '--n-shuffles-final', '2']);
  t.is(r.code, 0, r.stderr);
  const rec = jsonLines(r.stdout).at(-1) as { type: string; shards: number; tokens: number };
  t.like(rec, { type: 'result', shards: 2, tokens: 256 });
  t.true(existsSync(path.join(dir, '0.safetensors')));
  t.true(existsSync(path.join(dir, '1.safetensors')));
});

const sharedModels = path.join(SHARED, 'models');
const haveModels = existsSync(sharedModels);
(haveModels ? test : test.skip)(titled('models lists the families and the shared model folders', haveModels ? undefined : `${sharedModels} absent (needs ../shared)`), async (t) => {
  const models = sharedModels;
  const r = await runMain(['models', models]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /gpt2 +GPT2LMHeadModel/);
  t.regex(r.stdout, /llama +LlamaForCausalLM/);
  t.regex(r.stdout, /tiny-gpt2-sotu +gpt2, 4 layers, d_model 128/);
  const j = await runMain(['--json', 'models', models]);
  const recs = jsonLines(j.stdout);
  t.is(recs.filter((x) => x.type === 'family').length, 3);
  t.true(recs.some((x) => x.type === 'model' && x.family === 'llama'));
  mkdirSync(path.join(tmp, 'empty-models'), { recursive: true });
  t.regex((await runMain(['models', path.join(tmp, 'empty-models')])).stdout, /No model folders/);
});
