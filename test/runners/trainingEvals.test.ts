/**
 * Evals during training (SAELens's cadence) in the language-model runner: eval records of the
 * live SAE follow the step records at (step + 1) % (wandb_log_frequency × eval_every_n_wandb_logs)
 * == 0, on held-out token batches, and reach records.jsonl, W&B and the report.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { startFakeWandb } from '../helpers/fakeWandb.js';
import { decodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { languageModelRunner } from '../../src/runners/languageModelRunner.js';
import { readRecords } from '../../src/sinks/report/writeReport.js';
import type { EvalRecord, TrainEvent } from '../../src/stream/TrainEvent.js';

const MODEL_DIR = path.resolve('../shared/models/tiny-gpt2-sotu');
const TEXT = path.resolve('../shared/data/austen.txt');
const HAVE = fs.existsSync(path.join(MODEL_DIR, 'model.safetensors')) && fs.existsSync(TEXT);
if (!HAVE) console.log(`skipping the evals-during-training test: ${MODEL_DIR} or ${TEXT} is absent`);

let tmp: string;
test.before(async () => {
  await setupTf();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-trainevals-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

(HAVE ? test.serial : test.skip)('LM runner: evals of the live SAE at the SAELens cadence, on held-out batches, in records.jsonl, W&B and the report', async (t) => {
  const key = 'local-' + '0123456789abcdef'.repeat(2) + '01234567';
  const wandb = await startFakeWandb({ apiKey: key, entity: 'me' });
  const logs: string[] = [];
  try {
    const cfg = decodeRunnerConfig({
      model_name: MODEL_DIR, hook_point: 'blocks.1.hook_resid_pre', d_in: 128, expansion_factor: 2, dataset_path: TEXT,
      context_size: 32, store_batch_size: 4, n_batches_in_buffer: 4, train_batch_size: 128, training_tokens: 8 * 128,
      lr_warm_up_steps: 0, l1_coefficient: 1, log_to_wandb: true, wandb_project: 'evals-test', wandb_id: 'evals',
      wandb_log_frequency: 2, eval_every_n_wandb_logs: 2, checkpoint_path: tmp,
    });
    const before = tf.memory().numTensors;
    const seen: TrainEvent[] = [];
    const s = await languageModelRunner(cfg, {
      console: false, log: (l) => logs.push(l), handleSignals: false, evalBatches: 1,
      wandb: { baseUrl: wandb.url, apiKey: key }, sinks: [{ next: (r) => seen.push(r) }],
    }).run();
    t.is(tf.memory().numTensors, before, 'no tensor left');
    t.is(s.saes[0]!.steps, 8);

    // cadence 2 × 2: after steps 3 and 7 (the last), each right after its step record
    const recs = await readRecords(path.join(s.runDir, 'records.jsonl'));
    const evals = recs.filter((r): r is EvalRecord => r.type === 'eval');
    t.deepEqual(evals.map((e) => e.step), [3, 7]);
    for (const e of evals) {
      const i = recs.indexOf(e);
      t.like(recs[i - 1], { type: 'step', step: e.step, saeId: e.saeId });
      t.is(e.tokens, (e.step + 1) * 128);
      for (const m of ['ce_loss_score', 'ce_loss_without_sae', 'ce_loss_with_sae', 'l0', 'explained_variance'])
        t.true(Number.isFinite(e.metrics[m]), `${m} = ${e.metrics[m]} at step ${e.step}`);
    }
    t.deepEqual(seen.filter((r) => r.type === 'eval').map((r) => r.step), [3, 7]);
    // held out: the eval batch's documents were taken from the data before training
    t.true(logs.some((l) => /evals every 4 steps on 1 held-out store batch \(the first \d+ documents, not trained on\)/.test(l)), logs.join('\n'));

    // W&B: the eval metrics are in the history (SAELens's metrics/… names)
    t.deepEqual(wandb.problems, []);
    const run = [...wandb.runs.values()][0]!;
    t.true(run.history.some((h) => /ce_loss_score/i.test(h)), `an eval in the W&B history: ${run.history.join('\n')}`);
    // the report shows them
    const html = fs.readFileSync(s.reportPath!, 'utf8');
    t.true(html.includes('ce_loss_score'));
  } finally {
    await wandb.close();
  }
});

(HAVE ? test.serial : test.skip)('LM runner: no eval batches are read when no step is at the cadence', async (t) => {
  const logs: string[] = [];
  const cfg = decodeRunnerConfig({
    model_name: MODEL_DIR, hook_point: 'blocks.1.hook_resid_pre', d_in: 128, expansion_factor: 2, dataset_path: TEXT,
    context_size: 32, store_batch_size: 4, n_batches_in_buffer: 4, train_batch_size: 128, training_tokens: 3 * 128,
    lr_warm_up_steps: 0, log_to_wandb: false, wandb_log_frequency: 2, eval_every_n_wandb_logs: 2, checkpoint_path: path.join(tmp, 'none'),
  });
  const s = await languageModelRunner(cfg, { console: false, log: (l) => logs.push(l), handleSignals: false, report: false }).run();
  const recs = await readRecords(path.join(s.runDir, 'records.jsonl'));
  t.is(recs.filter((r) => r.type === 'eval').length, 0);
  t.false(logs.some((l) => l.includes('held-out')));
});
