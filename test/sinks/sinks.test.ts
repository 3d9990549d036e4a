import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { from } from 'rxjs';
import { sinks, sinksWith } from '../../src/sinks/sinks.js';
import { jsonlSink } from '../../src/sinks/jsonlSink.js';
import { readRecords } from '../../src/sinks/report/writeReport.js';
import { consoleSink } from '../../src/sinks/consoleSink.js';
import type { StepRecord, TrainEvent } from '../../src/stream/TrainEvent.js';
import { tempDir } from '../helpers/tempDir.js';

const step = (i: number, saeId = 'a'): StepRecord => ({
  type: 'step', saeId, step: i, tokens: (i + 1) * 128,
  losses: { mse: 0.5 + i, l1: 0.25, ghost: 0, total: 0.75 + i },
  l0: 3.5, explainedVarianceMean: 0.9, explainedVarianceStd: 0.01, deadFeatures: 0, lr: 3e-4, l1Coefficient: 1e-3, phase: 'train',
});
const records: TrainEvent[] = [
  step(0), step(1), step(0, 'b'),
  { type: 'checkpoint', saeId: 'a', step: 1, tokens: 256, path: '/tmp/x/256' },
  { type: 'warning', saeId: 'a', step: 1, tokens: 256, message: 'disk slow' },
  { type: 'eval', saeId: 'a', step: 1, tokens: 256, metrics: { l0: 3, ce_loss_score: 0.9 }, histograms: { log_sparsity: { edges: [0, 1], counts: [2] } } },
  { type: 'done', saeId: 'a', step: 2, tokens: 256, path: '/tmp/x/final_256' },
];

test('jsonlSink(): appends records; they read back unchanged', async (t) => {
  const dir = tempDir(t, 'jsonl-');
  const file = path.join(dir, 'sub', 'log.jsonl');
  from(records).subscribe(jsonlSink(file));
  t.deepEqual(await readRecords(file), records);
  from([step(5)]).subscribe(jsonlSink(file));
  t.deepEqual(await readRecords(file), [...records, step(5)], 'appends');
  fs.rmSync(dir, { recursive: true });
});

test('sinks(): a throwing sink is isolated, warned about once; the others receive everything', (t) => {
  const got: TrainEvent[] = [];
  const warnings: string[] = [];
  let completed = false;
  const bad = { name: 'bad', next: () => { throw new Error('W&B down'); } };
  from(records).subscribe(sinksWith({ warn: (m) => warnings.push(m) }, bad, { next: (r: TrainEvent) => got.push(r), complete: () => (completed = true) }));
  t.deepEqual(got, records);
  t.true(completed);
  t.is(warnings.filter((w) => /W&B down/.test(w)).length, 1);
  t.regex(warnings[0]!, /sink 0 \(bad\)/);
  t.regex(warnings[1]!, /failed 7 times/);
});

test('sinks(): a rejected Promise from a sink is caught and warned about', async (t) => {
  const warnings: string[] = [];
  from(records.slice(0, 1)).subscribe(sinksWith({ warn: (m) => warnings.push(m) }, { next: async () => { throw new Error('async fail'); } }));
  await new Promise((r) => setTimeout(r, 10));
  t.regex(warnings[0] ?? '', /async fail/);
  t.notThrows(() => sinks({ next: () => {} }).next(step(0)));
});

test('consoleSink(): plain lines when not a TTY, with step, tok/s, loss, L0, and records as lines', (t) => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  from(records).subscribe(consoleSink({ stream: out, totalSteps: 2, intervalMs: 0 }));
  t.regex(text, /step 1\/2 \| \d+ tokens\/s trained \| loss 0\.7500 \| L0 3\.500 \| ETA/);
  t.regex(text, /step 2\/2/);
  t.notRegex(text, /loss 0\.7500.*\n.*\[b\]/, 'follows the first SAE only');
  t.regex(text, /checkpoint \[a\] step 1, 256 tokens → \/tmp\/x\/256/);
  t.regex(text, /WARNING \[a step 1\]: disk slow/);
  t.regex(text, /eval \[a\] step 1: l0 3\.000, ce_loss_score 0\.9000/);
  t.regex(text, /done \[a\] 2 steps, 256 tokens in \d+s → \/tmp\/x\/final_256/);
});

test('consoleSink(): a bar on a TTY stream', (t) => {
  const out = new PassThrough() as PassThrough & { isTTY: boolean; columns: number; cursorTo: () => boolean; clearLine: () => boolean; moveCursor: () => boolean };
  Object.assign(out, { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  let text = '';
  out.on('data', (d) => (text += d));
  from(records).subscribe(consoleSink({ stream: out, totalSteps: 2 }));
  t.regex(text, /%/);
  t.regex(text, /done \[a\]/);
});
