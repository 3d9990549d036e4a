import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { decodeCacheActivationsRunnerConfig } from '../../src/config/cacheActivationsRunnerConfig.js';
import { decodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { ConfigError } from '../../src/errors.js';
import { runCacheActivations } from '../../src/runners/cacheActivationsRunner.js';
import { languageModelRunner } from '../../src/runners/languageModelRunner.js';
import { lastValueFrom } from 'rxjs';
import { readRecords } from '../../src/sinks/report/writeReport.js';

const MODEL_DIR = path.resolve('../shared/models/tiny-gpt2-sotu');
const TEXT = path.resolve('../shared/data/austen.txt');
const HAVE = fs.existsSync(path.join(MODEL_DIR, 'model.safetensors')) && fs.existsSync(TEXT);
if (!HAVE) console.log(`skipping training from cached activations: ${MODEL_DIR} or ${TEXT} is absent`);

let tmp: string;
test.before(async () => {
  await setupTf();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-cachedtrain-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Settings the cache and the training runs share (tiny GPT-2, layer 1 residual, Austen). */
const common = { model_name: MODEL_DIR, hook_point: 'blocks.1.hook_resid_pre', dataset_path: TEXT, context_size: 32, d_in: 128, store_batch_size: 4, n_batches_in_buffer: 4 };

/** An unshuffled activation cache of `tokens` tokens in tmp/`name`; returns its path. */
async function writeCache(name: string, tokens: number): Promise<string> {
  const cache = path.join(tmp, name);
  await runCacheActivations(
    decodeCacheActivationsRunnerConfig({ ...common, training_tokens: tokens, new_cached_activations_path: cache, n_shuffles_with_last_section: 0, n_shuffles_in_entire_dir: 0, n_shuffles_final: 0 }),
    { log: () => {} },
  );
  return cache;
}

(HAVE ? test.serial : test.skip)('use_cached_activations: the LM runner trains from a cache written by runCacheActivations', async (t) => {
  const cache = await writeCache('cache', 40 * 128);
  const before = tf.memory().numTensors;
  const cfg = decodeRunnerConfig({
    ...common, use_cached_activations: true, cached_activations_path: cache, expansion_factor: 2, train_batch_size: 128,
    training_tokens: 30 * 128, lr_warm_up_steps: 0, l1_coefficient: 1e-2, log_to_wandb: false, wandb_id: 'cached', checkpoint_path: path.join(tmp, 'ckpt'),
  });
  const s = await languageModelRunner(cfg, { console: false, log: () => {}, handleSignals: false, report: false }).run();
  t.is(tf.memory().numTensors, before);
  t.is(s.saes[0]!.steps, 30);
  t.true(s.saes[0]!.last!.losses.total < s.saes[0]!.first!.losses.total);
  // a cache of another hook is refused before training
  const other = decodeRunnerConfig({ ...common, hook_point: 'blocks.0.hook_resid_post', hook_point_layer: 0, use_cached_activations: true, cached_activations_path: cache, training_tokens: 128, log_to_wandb: false, wandb_id: 'x', checkpoint_path: path.join(tmp, 'x') });
  await t.throwsAsync(lastValueFrom(languageModelRunner(other, { console: false, log: () => {}, handleSignals: false }).events$), { instanceOf: ConfigError, message: /hook/ });
});

(HAVE ? test.serial : test.skip)('use_cached_activations: evals at the SAELens cadence load the model (as SAELens does); without the model, a warning and no evals', async (t) => {
  const cache = await writeCache('cache-evals', 12 * 128);
  const train = { ...common, use_cached_activations: true, cached_activations_path: cache, expansion_factor: 2, train_batch_size: 128, training_tokens: 8 * 128, lr_warm_up_steps: 0, log_to_wandb: false, wandb_log_frequency: 2, eval_every_n_wandb_logs: 2 };
  const before = tf.memory().numTensors;
  const lines: string[] = [];
  const s = await languageModelRunner(decodeRunnerConfig({ ...train, wandb_id: 'ce', checkpoint_path: path.join(tmp, 'ce') }), { console: false, log: (l) => lines.push(l), handleSignals: false, report: false }).run();
  t.is(tf.memory().numTensors, before);
  const evals = (await readRecords(path.join(s.runDir, 'records.jsonl'))).filter((r) => r.type === 'eval');
  t.deepEqual(evals.map((r) => r.step), [3, 7]); // cadence 2 × 2
  t.true(lines.some((l) => /evals every 4 steps on 1 held-out store batch/.test(l)), lines.join('\n'));
  // The cache alone (the model folder gone): trains, says why there are no evals.
  const lines2: string[] = [];
  const missing = path.join(tmp, 'no-such-model');
  const s2 = await languageModelRunner(decodeRunnerConfig({ ...train, model_name: missing, wandb_id: 'cn', checkpoint_path: path.join(tmp, 'cn') }), { console: false, log: (l) => lines2.push(l), handleSignals: false, report: false }).run();
  t.is(s2.saes[0]!.steps, 8);
  t.is((await readRecords(path.join(s2.runDir, 'records.jsonl'))).filter((r) => r.type === 'eval').length, 0);
  t.true(lines2.some((l) => l.includes('WARNING: no evals: model') && l.includes('no-such-model')), lines2.join('\n'));
  t.is(tf.memory().numTensors, before);
});
