import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { filter, lastValueFrom, take, toArray } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { decodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { toyModelRunner } from '../../src/runners/toyModelRunner.js';
import { readRecords } from '../../src/sinks/report/writeReport.js';

let tmp: string;
test.before(async () => {
  await setupTf();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-toyrunner-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const config = (extra: Record<string, unknown> = {}) =>
  decodeRunnerConfig(
    {
      n_features: 6,
      n_hidden: 3,
      feature_probability: 0.05,
      model_training_steps: 800,
      model_batch_size: 512,
      d_sae: 12,
      l1_coefficient: 0.1,
      lr: 1e-2,
      adam_beta1: 0,
      train_batch_size: 512,
      total_training_tokens: 300 * 512,
      log_to_wandb: false,
      checkpoint_path: path.join(tmp, 'ckpt'),
      ...extra,
    },
    'toy_model',
  );

test.serial('toy runner: toy model → SAE through the shared tail; run folder, SAE folder, recovery; no tensor left', async (t) => {
  const before = tf.memory().numTensors;
  const runner = toyModelRunner(config(), { console: false, log: () => {}, handleSignals: false });
  t.is(runner.runDir, path.join(tmp, 'ckpt'));
  const s = await runner.run();
  t.is(tf.memory().numTensors, before);
  const sae = s.saes[0]!;
  t.is(sae.saeId, 'sae');
  t.is(sae.steps, 300);
  t.true(fs.existsSync(path.join(sae.path!, 'sae_weights.safetensors')));
  t.true(fs.existsSync(path.join(s.runDir, 'config.json')) && fs.existsSync(s.reportPath!));
  const cfgJson = JSON.parse(fs.readFileSync(path.join(s.runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  t.is(cfgJson.n_features, 6);
  const steps = (await readRecords(path.join(s.runDir, 'records.jsonl'))).filter((r) => r.type === 'step');
  t.is(steps.length, 300);
  t.log(`recovered ${s.recovery!.recovered}/6, mean max-cosine ${s.recovery!.meanMaxCosine.toFixed(3)}, loss ${sae.first!.losses.total.toFixed(3)} → ${sae.last!.losses.total.toFixed(3)}`);
  t.true(sae.last!.losses.total < sae.first!.losses.total);
  t.true(s.recovery!.recovered >= 4, `recovered ${s.recovery!.recovered}/6`);
  t.is(s.toyModel.cfg.nFeatures, 6);
});

test.serial('toy runner: events$ is cold and frees everything when unsubscribed early', async (t) => {
  const before = tf.memory().numTensors;
  const runner = toyModelRunner(config({ checkpoint_path: path.join(tmp, 'early') }), { console: false, log: () => {}, handleSignals: false });
  const first = await lastValueFrom(runner.events$.pipe(filter((r) => r.type === 'step'), take(5), toArray()));
  t.deepEqual(first.map((r) => r.step), [0, 1, 2, 3, 4]);
  t.is(tf.memory().numTensors, before);
  t.truthy(runner.toyModel());
});
