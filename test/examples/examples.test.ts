import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { exampleNames, loadExample } from '../../examples/run.js';
import { runToy } from '../../examples/toy.js';
import { readRecords } from '../../src/sinks/report/writeReport.js';
import { tempDir } from '../helpers/tempDir.js';

test.before(async () => {
  await setupTf();
});

test.serial('examples/run.ts lists every example with a description and main()', async (t) => {
  const names = exampleNames();
  t.true(names.includes('toy') && names.includes('plainRx'));
  for (const n of names) {
    const m = await loadExample(n);
    t.is(typeof m.description, 'string');
    t.is(typeof m.main, 'function');
  }
  await t.throwsAsync(loadExample('nope'), { message: /no example 'nope'.*toy/ });
});

test.serial('examples/toy.ts (quick): the SAE recovers the toy features; log and SAE folder on disk; no tensor left', async (t) => {
  const runsDir = tempDir(t, 'toy-example-');
  const before = tf.memory().numTensors;
  const r = await runToy({ quick: true, runsDir, verbose: false });
  t.is(tf.memory().numTensors, before);
  t.log(`recovered ${r.recovery.recovered}/10, mean max-cosine ${r.recovery.meanMaxCosine.toFixed(4)}, ${Math.round(r.tokensPerSecond)} tok/s`);
  t.true(r.recovery.recovered >= 8, `recovered ${r.recovery.recovered}`);
  t.true(r.recovery.meanMaxCosine > 0.9);
  t.true(fs.existsSync(path.join(r.saeDir, 'cfg.json')));
  const recs = await readRecords(path.join(r.runDir, 'records.jsonl'));
  t.true(fs.existsSync(path.join(r.runDir, 'report.html')));
  t.is(recs[recs.length - 1]!.type, 'done');
  t.true(recs.filter((x) => x.type === 'step').length >= 30);
  fs.rmSync(runsDir, { recursive: true });
});

test.serial('examples/plainRx.ts runs and leaves no tensor behind', async (t) => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    await (await loadExample('plainRx')).main([]);
  } finally {
    console.log = log;
  }
  t.true(lines.some((l) => /lowest logged L0/.test(l)));
  t.true(lines.includes('tensors left behind by the run: 0'));
});
