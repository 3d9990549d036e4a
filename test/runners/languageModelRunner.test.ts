/**
 * The language-model runner end to end, offline: a tiny real GPT-2 and a parquet text dataset
 * served by the loopback hub, downloaded into a temporary HF cache; a second run with
 * HF_HUB_OFFLINE=1 trains from the cache alone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { useLmRunnerHub } from '../helpers/lmRunnerHub.js';
import { decodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { ConfigError } from '../../src/errors.js';
import { datasetDocuments, languageModelRunner } from '../../src/runners/languageModelRunner.js';
import { readRecords } from '../../src/sinks/report/writeReport.js';
import type { StepRecord } from '../../src/stream/TrainEvent.js';

const fixture = useLmRunnerHub({ what: 'language-model runner', prefix: 'sae-rx-lmrunner-', speeches: 40, rowGroupSize: 200 });
const t0 = fixture.t0;

const STEPS = 300;
const config = (extra: Record<string, unknown> = {}) =>
  decodeRunnerConfig({
    model_name: 'owner/tiny-gpt2',
    hook_point: 'blocks.1.hook_resid_pre',
    hook_point_layer: 1,
    d_in: 128,
    expansion_factor: 2,
    dataset_path: 'owner/sotu-text',
    streaming: false,
    is_dataset_tokenized: false,
    context_size: 32,
    n_batches_in_buffer: 4,
    store_batch_size: 8,
    train_batch_size: 128,
    training_tokens: STEPS * 128,
    normalize_activations: 'expected_average_only_in',
    l1_coefficient: 1,
    lr: 1e-3,
    lr_warm_up_steps: 0,
    feature_sampling_window: 100,
    dead_feature_window: 100,
    log_to_wandb: false,
    wandb_id: 'e2e',
    checkpoint_path: path.join(fixture.tmp(), 'checkpoints'),
    seed: 42,
    ...extra,
  });

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

t0('through the hub: downloads model, tokenizer and dataset, trains an SAE on blocks.1.hook_resid_pre with falling loss', async (t) => {
  const before = tf.memory().numTensors;
  const cfg = config();
  const runner = languageModelRunner(cfg, { console: false, log: () => {}, handleSignals: false, finalEvalBatches: 2 });
  t.is(runner.runDir, path.join(fixture.tmp(), 'checkpoints', 'e2e'));
  const t1 = Date.now();
  const s = await runner.run();
  const secs = (Date.now() - t1) / 1000;
  t.is(tf.memory().numTensors, before, 'no tensor left');
  t.is(s.saes.length, 1);
  const sae = s.saes[0]!;
  t.is(sae.steps, STEPS);
  t.is(sae.tokens, STEPS * 128);
  t.truthy(sae.path && fs.existsSync(path.join(sae.path, 'cfg.json')) && fs.existsSync(path.join(sae.path, 'sae_weights.safetensors')));
  const recs = (await readRecords(path.join(s.runDir, 'records.jsonl'))).filter((r): r is StepRecord => r.type === 'step');
  t.is(recs.length, STEPS);
  // the first steps are skipped (L1 at its start value, b_dec just initialised); compare windows
  const start = mean(recs.slice(0, 20).map((r) => r.losses.total));
  const end = mean(recs.slice(-20).map((r) => r.losses.total));
  t.log(`${STEPS} steps in ${secs.toFixed(1)} s (${Math.round(s.tokensPerSecond)} tok/s); loss ${start.toFixed(2)} → ${end.toFixed(2)}; last L0 ${sae.last?.l0.toFixed(1)}, explained variance ${sae.last?.explainedVarianceMean.toFixed(3)}`);
  t.true(end < 0.7 * start, `loss ${start} → ${end}`);
  t.true(sae.last!.explainedVarianceMean > 0.5);
  // evals of the final SAE on the data after the training data (SAELens run_evals)
  const ev = sae.evals!;
  t.log(`evals: CE clean ${ev.ce_loss_without_sae?.toFixed(3)}, with SAE ${ev.ce_loss_with_sae?.toFixed(3)}, ablated ${ev.ce_loss_with_ablation?.toFixed(3)}, score ${ev.ce_loss_score?.toFixed(3)}, L0 ${ev.l0?.toFixed(1)}`);
  t.true(ev.ce_loss_score! > 0.5 && ev.ce_loss_score! <= 1.01, `CE loss score ${ev.ce_loss_score}`);
  const evalRecs = (await readRecords(path.join(s.runDir, 'records.jsonl'))).filter((r) => r.type === 'eval');
  t.is(evalRecs.length, 1);
  // config.json in SAELens's snake_case; report written
  const written = JSON.parse(fs.readFileSync(path.join(s.runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  t.is(written.hook_point, 'blocks.1.hook_resid_pre');
  t.is(written.dtype, 'torch.float32');
  t.true(fs.existsSync(s.reportPath!));
  // everything came through the hub, at one pinned commit per repo
  const got = fixture.hub().requests.filter((r) => r.url.includes('/resolve/')).map((r) => r.url);
  t.true(got.some((u) => u.endsWith('model.safetensors')) && got.some((u) => u.endsWith('tokenizer.json')) && got.some((u) => u.endsWith('.parquet')));
});

t0('a second run with HF_HUB_OFFLINE=1 trains from the cache alone', async (t) => {
  fixture.hub().clearLog();
  process.env.HF_HUB_OFFLINE = '1';
  try {
    const cfg = config({ training_tokens: 20 * 128, wandb_id: 'offline' });
    const s = await languageModelRunner(cfg, { console: false, log: () => {}, handleSignals: false, report: false }).run();
    t.is(s.saes[0]!.steps, 20);
    t.deepEqual(fixture.hub().requests, [], 'no request reached the hub');
  } finally {
    delete process.env.HF_HUB_OFFLINE;
  }
});

t0('a sweep over l1_coefficient trains two SAEs on one stream, read once (as much data as one SAE)', async (t) => {
  const before = tf.memory().numTensors;
  const counted = async (extra: Record<string, unknown>) => {
    let docs = 0;
    const documents = datasetDocuments(config()).pipe(tap(() => docs++));
    const runner = languageModelRunner(config({ training_tokens: 30 * 128, ...extra }), { console: false, log: () => {}, handleSignals: false, documents });
    const recs = await lastValueFrom(runner.events$.pipe(toArray()));
    return { recs, docs };
  };
  const one = await counted({ wandb_id: 'one' });
  const sweep = await counted({ l1_coefficient: [1, 3], wandb_id: 'sweep' });
  t.is(tf.memory().numTensors, before);
  const done = sweep.recs.filter((r) => r.type === 'done');
  t.is(done.length, 2);
  t.true(done.every((r) => /l1_coefficient_[13]$/.test(r.saeId)) && done[0]!.saeId !== done[1]!.saeId, done.map((r) => r.saeId).join(', '));
  for (const d of done) t.is(sweep.recs.filter((r) => r.type === 'step' && r.saeId === d.saeId).length, 30);
  t.is(sweep.docs, one.docs, 'the sweep read the dataset once');
});

t0('a sweep over hook_point_layer: one forward pass gives [rows, 2, d_in]; each SAE trains on its layer', async (t) => {
  const before = tf.memory().numTensors;
  const cfg = config({ hook_point: 'blocks.{layer}.hook_resid_pre', hook_point_layer: [0, 1], training_tokens: 20 * 128, wandb_id: 'layers' });
  const recs = await lastValueFrom(languageModelRunner(cfg, { console: false, log: () => {}, handleSignals: false }).events$.pipe(toArray()));
  t.is(tf.memory().numTensors, before);
  const done = recs.filter((r) => r.type === 'done');
  t.deepEqual(done.map((r) => r.saeId.includes('blocks.0.') ? 0 : 1).sort(), [0, 1]);
  for (const d of done) {
    const saved = JSON.parse(fs.readFileSync(path.join(d.path!, 'cfg.json'), 'utf8')) as { hook_point: string };
    t.true(d.saeId.includes(saved.hook_point), `${d.saeId} saved with hook_point ${saved.hook_point}`);
  }
});

t0('a d_in that does not fit the hook, or a context longer than the model\'s, is a ConfigError before training', async (t) => {
  const before = tf.memory().numTensors;
  const bad = languageModelRunner(config({ d_in: 64, wandb_id: 'bad' }), { console: false, log: () => {}, handleSignals: false });
  await t.throwsAsync(lastValueFrom(bad.events$), { instanceOf: ConfigError, message: /d_in 64 does not match the width 128 of 'blocks.1.hook_resid_pre'/ });
  const long = languageModelRunner(config({ context_size: 512, wandb_id: 'bad2' }), { console: false, log: () => {}, handleSignals: false });
  await t.throwsAsync(lastValueFrom(long.events$), { instanceOf: ConfigError, message: /context_size 512 exceeds/ });
  t.is(tf.memory().numTensors, before, 'the model was freed');
});
