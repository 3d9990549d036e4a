import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { titled } from '../helpers/skip.js';
import { tempDir } from '../helpers/tempDir.js';
import { setupTf } from '../helpers/tf.js';
import { loadExample } from '../../examples/run.js';
import { readRecords } from '../../src/index.js';

const shared = path.resolve('../shared/models/tiny-gpt2-sotu');

test.before(async () => {
  await setupTf();
});

const haveShared = fs.existsSync(shared);
(haveShared ? test : test.skip)(titled('examples/pipeline.ts (the README snippet) trains on the tiny GPT-2 and writes its records', haveShared ? undefined : `${shared} is absent (it ships in ../shared)`), async (t) => {
  const runs = tempDir(t, 'sae-rx-pipeline-');
  const before = tf.memory().numTensors;
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  try {
    await (await loadExample('pipeline')).main(['--quick', '--runs', runs]);
  } finally {
    process.stdout.write = write;
  }
  t.is(tf.memory().numTensors, before, 'no tensor left behind');
  const [runDir] = fs.readdirSync(runs).map((d) => path.join(runs, d));
  const records = await readRecords(path.join(runDir!, 'records.jsonl'));
  const steps = records.filter((r) => r.type === 'step');
  t.true(steps.length >= 40, `${steps.length} step records`);
  t.truthy(records.find((r) => r.type === 'done'));
  const first = steps[0] as { losses: { total: number } };
  const last = steps[steps.length - 1] as { losses: { total: number } };
  t.true(last.losses.total < first.losses.total, `loss ${first.losses.total} → ${last.losses.total}`);
  t.true(fs.existsSync(path.join(runDir!, 'sae')), 'SAE checkpoints written');
});
