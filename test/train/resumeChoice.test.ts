/**
 * Which checkpoint a run resumes from (train/resume.ts, the one finder the runners use): the
 * newest *valid* one. A damaged newest checkpoint (cut weights, a training state that fails
 * validation, a folder name that is not the tokens it holds, a step past the run's data) is
 * passed over, named, for the one before it; a training state that fails validation is never
 * loaded. Also: what a resumed run does with the records and leftovers of the run it continues.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { firstValueFrom, of, toArray } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { FileFormatError } from '../../src/errors.js';
import { findResumePoint, type DamagedCheckpoint } from '../../src/train/resume.js';
import { readCheckpointState } from '../../src/train/checkpointWriter.js';
import { trainSae } from '../../src/operators/trainSae.js';
import { toyActivations } from '../../src/sources/toyActivations.js';
import { toyModel } from '../../src/sources/toyModel.js';
import { resumableStream } from '../../src/runners/trainingRun.js';
import type { TrainEvent } from '../../src/stream/TrainEvent.js';
import { spec } from '../operators/trainSaeHelpers.js';

let root: string;
let run: string;
test.before(async () => {
  await setupTf();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-resume-choice-'));
  // 12 steps of 32 rows, n_checkpoints 4: checkpoints 128 (step 4), 224 (step 7), 320 (step 10), final_384
  run = path.join(root, 'run');
  const model = toyModel({ nFeatures: 8, nHidden: 4, featureProbability: 0.1 });
  const S = spec({ trainer: { totalTrainingSteps: 12, featureSamplingWindow: 5, deadFeatureWindow: 3 } });
  await firstValueFrom(toyActivations(model, { batchSize: 32, seed: 5 }).pipe(trainSae(S, { warn: () => {}, handleSignals: false, checkpointPath: run, nCheckpoints: 4 }), toArray()));
});
test.after.always(() => fs.rmSync(root, { recursive: true, force: true }));

/** A copy of the run's SAE folder to damage, without the final SAE (as a killed run leaves it). */
function killedCopy(name: string): string {
  const dir = path.join(root, name);
  fs.cpSync(run, dir, { recursive: true });
  for (const n of fs.readdirSync(path.join(dir, 'sae'))) if (n.startsWith('final_')) fs.rmSync(path.join(dir, 'sae', n), { recursive: true });
  return dir;
}
const editState = (ck: string, f: (j: Record<string, any>) => void) => {
  const p = path.join(ck, 'training_state.json');
  const j = JSON.parse(fs.readFileSync(p, 'utf8')) as Record<string, any>;
  f(j);
  fs.writeFileSync(p, JSON.stringify(j));
};

test('the checkpoints of the run are as this test expects', async (t) => {
  t.deepEqual(fs.readdirSync(path.join(run, 'sae')).sort(), ['128', '224', '320', 'final_384']);
  const p = await findResumePoint(killedCopy('intact'), ['sae']);
  t.like(p, { tokens: 320, batchesConsumed: 10 });
});

const damages: Array<[string, (ck: string) => void, RegExp]> = [
  ['cut weights', (ck) => fs.truncateSync(path.join(ck, 'sae_weights.safetensors'), 100), /sae_weights\.safetensors/],
  ['cut optimizer state', (ck) => fs.truncateSync(path.join(ck, 'training_state.safetensors'), 60), /training_state\.safetensors/],
  ['a negative Adam step', (ck) => editState(ck, (j) => (j.adam.steps.W_enc = -5)), /adam\.steps\.W_enc must be an integer ≥ 0, got -5/],
  ['batchesConsumed past its steps', (ck) => editState(ck, (j) => (j.data.batchesConsumed = 10_000)), /data\.batchesConsumed is 10000/],
  ['a folder name that is not its tokens', (ck) => fs.renameSync(ck, path.join(path.dirname(ck), '352')), /tokens is 320, but the folder name says 352/],
  ['a step past the run', (ck) => editState(ck, (j) => (j.step = 40)), /past the 12 steps/],
];
for (const [what, damage, why] of damages) {
  test(`a newest checkpoint with ${what} is passed over, named, for the newest valid one`, async (t) => {
    const dir = killedCopy(what.replace(/\W+/g, '-'));
    damage(path.join(dir, 'sae', '320'));
    const damaged: DamagedCheckpoint[] = [];
    const p = await findResumePoint(dir, ['sae'], { totalSteps: 12, onDamaged: (d) => damaged.push(d) });
    t.like(p, { tokens: 224, batchesConsumed: 7, dirs: { sae: path.join(dir, 'sae', '224') } });
    t.is(damaged.length, 1);
    t.regex(damaged[0]!.problem, why);
  });
}

test('a training state that fails validation is never loaded: readCheckpointState names the field', async (t) => {
  const dir = killedCopy('negative-adam-load');
  const ck = path.join(dir, 'sae', '320');
  editState(ck, (j) => (j.adam.steps.b_dec = -1));
  await t.throwsAsync(readCheckpointState(ck), { instanceOf: FileFormatError, message: /training_state\.json: adam\.steps\.b_dec must be an integer ≥ 0, got -1/ });
});

test('resuming: leftover temporary folders are removed, the killed run\'s error and cut lines dropped; starting afresh drops its records', async (t) => {
  const dir = killedCopy('records');
  const tmpLeft = path.join(dir, 'sae', '.352.tmp-4242-deadbeef');
  fs.mkdirSync(tmpLeft);
  fs.writeFileSync(path.join(tmpLeft, 'cfg.json'), '{}');
  const rec = (step: number) => JSON.stringify({ type: 'step', saeId: 'sae', step, tokens: (step + 1) * 32 });
  const records = path.join(dir, 'records.jsonl');
  fs.writeFileSync(records, [...Array(11).keys()].map(rec).join('\n') + '\n{"type":"error","message":"trainSae: interrupted by SIGINT"}\n{"type":"st');
  const logs: string[] = [];
  const build = () => of<TrainEvent>();
  await firstValueFrom(resumableStream({ runDir: dir, saeIds: ['sae'], resume: true, log: (l) => logs.push(l) }, build).pipe(toArray()));
  t.false(fs.existsSync(tmpLeft), logs.join('\n'));
  const kept = fs.readFileSync(records, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number });
  t.deepEqual(kept.map((r) => `${r.type} ${r.step}`), [...Array(10).keys()].map((s) => `step ${s}`));

  // nothing to resume from: the records are the killed run's, not this one's
  fs.rmSync(path.join(dir, 'sae'), { recursive: true });
  await firstValueFrom(resumableStream({ runDir: dir, saeIds: ['sae'], resume: true, log: (l) => logs.push(l) }, build).pipe(toArray()));
  t.regex(logs.join('\n'), /starting afresh/);
  t.false(fs.existsSync(records));
});

test('"already finished" without a report says how to write it', async (t) => {
  await t.throwsAsync(firstValueFrom(resumableStream({ runDir: run, saeIds: ['sae'], resume: true, log: () => {} }, () => of<TrainEvent>())), {
    message: new RegExp(`already finished .*no report\\.html: write it with 'sae-rx report ${run.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`),
  });
});
