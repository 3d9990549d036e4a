import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { decodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { ConfigError } from '../../src/errors.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { languageModelRunner } from '../../src/runners/languageModelRunner.js';
import { findResumePoint } from '../../src/runners/trainingRun.js';

const MODEL_DIR = path.resolve('../shared/models/tiny-gpt2-sotu');
const TEXT = path.resolve('../shared/data/austen.txt');
const HAVE = fs.existsSync(path.join(MODEL_DIR, 'model.safetensors')) && fs.existsSync(TEXT);
if (!HAVE) console.log(`skipping the resume test: ${MODEL_DIR} or ${TEXT} is absent`);

let tmp: string;
test.before(async () => {
  await setupTf();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-resume-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const weights = (dir: string) => {
  const file = path.join(dir, 'sae_weights.safetensors');
  const st = decodeSafetensors(new Uint8Array(fs.readFileSync(file)), file);
  return Object.fromEntries(['W_enc', 'b_enc', 'W_dec', 'b_dec'].map((k) => [k, Array.from(st.float32(k))]));
};

(HAVE ? test.serial : test.skip)('resume: continues from the latest checkpoint and ends with the same SAE, bit for bit, as an uninterrupted run', async (t) => {
  const cfg = (resume: boolean) =>
    decodeRunnerConfig({
      model_name: MODEL_DIR, hook_point: 'blocks.1.hook_resid_pre', d_in: 128, expansion_factor: 2, dataset_path: TEXT,
      context_size: 32, store_batch_size: 4, n_batches_in_buffer: 4, train_batch_size: 128, training_tokens: 24 * 128,
      normalize_activations: 'expected_average_only_in', lr_warm_up_steps: 0, l1_coefficient: 1, n_checkpoints: 2,
      log_to_wandb: false, wandb_id: 'resume', checkpoint_path: tmp, resume,
    });
  const run = (resume: boolean) => languageModelRunner(cfg(resume), { console: false, log: () => {}, handleSignals: false, report: false }).run();
  const before = tf.memory().numTensors;
  const full = await run(false);
  const sae = full.saes[0]!;
  const finalDir = sae.path!;
  const want = weights(finalDir);
  // as if the run had stopped after its mid-run checkpoint
  fs.rmSync(finalDir, { recursive: true });
  const point = await findResumePoint(full.runDir, [sae.saeId]);
  t.truthy(point);
  t.true(point!.batchesConsumed > 0 && point!.batchesConsumed < 24, `checkpoint after ${point!.batchesConsumed} batches`);
  const resumed = await run(true);
  t.is(tf.memory().numTensors, before);
  t.is(resumed.saes[0]!.steps, 24);
  t.is(resumed.saes[0]!.path, finalDir);
  t.deepEqual(weights(finalDir), want);
  // a finished run is not resumed
  await t.throwsAsync(run(true), { instanceOf: ConfigError, message: /already finished/ });
});
