import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, take, toArray, type Observable } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { dataPosition, findLatestCheckpoint, inspectCheckpoint } from '../../src/train/resume.js';
import { readCheckpointState } from '../../src/train/checkpointWriter.js';
import { trainSae } from '../../src/operators/trainSae.js';
import { mixingBuffer } from '../../src/operators/mixingBuffer.js';
import { toyActivations } from '../../src/sources/toyActivations.js';
import { toyModel } from '../../src/sources/toyModel.js';
import { cachedActivations, skipBatches } from '../../src/sources/cachedActivations.js';
import { cacheActivationsRunner } from '../../src/runners/cacheActivationsRunner.js';
import type { ActivationBatch } from '../../src/stream/ActivationBatch.js';
import type { TrainEvent } from '../../src/stream/TrainEvent.js';
import { spec } from '../operators/trainSaeHelpers.js';
import { tempDir } from '../helpers/tempDir.js';

test.before(async () => {
  await setupTf();
});

const model = toyModel({ nFeatures: 8, nHidden: 4, featureProbability: 0.1 });
const toy = (batches?: number) => toyActivations(model, { batchSize: 32, seed: 5, batches });
const tmp = (t: ExecutionContext) => tempDir(t, 'resume-');
const quiet = { warn: () => {}, handleSignals: false };
// 12 steps of 32 rows; n_checkpoints 2: one checkpoint once tokens pass 192 (after step 7, 224 tokens)
const S = spec({ trainer: { totalTrainingSteps: 12, featureSamplingWindow: 5, deadFeatureWindow: 3 } });
const run = (src: Observable<ActivationBatch>, checkpointPath: string, extra: Record<string, unknown> = {}) =>
  firstValueFrom(src.pipe(trainSae(S, { ...quiet, checkpointPath, nCheckpoints: 2, ...extra }), toArray())) as Promise<TrainEvent[]>;

async function finalWeights(recs: TrainEvent[]) {
  const done = recs.find((r) => r.type === 'done');
  if (!done || done.type !== 'done' || !done.path) throw new Error('no final SAE');
  return (await readCheckpointState(done.path)).weights;
}

/** What a crash leaves behind: a temporary folder of an unfinished write, and folders missing files. */
function simulateCrashLeftovers(saeDir: string) {
  const tmpDir = path.join(saeDir, '.320.tmp-4242-deadbeef');
  fs.mkdirSync(tmpDir);
  fs.writeFileSync(path.join(tmpDir, 'cfg.json'), '{}');
  fs.writeFileSync(path.join(tmpDir, 'training_state.json'), '{"step": 10, "tokens": 320, "da');
  const half = path.join(saeDir, '352');
  fs.mkdirSync(half);
  fs.writeFileSync(path.join(half, 'cfg.json'), '{}');
  fs.writeFileSync(path.join(half, 'training_state.json'), JSON.stringify({ step: 11, tokens: 352, data: {} }));
  const corrupt = path.join(saeDir, '384');
  fs.mkdirSync(corrupt);
  for (const f of ['cfg.json', 'sae_weights.safetensors', 'training_state.safetensors']) fs.writeFileSync(path.join(corrupt, f), 'x');
  fs.writeFileSync(path.join(corrupt, 'training_state.json'), '{"step": 12, "tok');
}

test.serial('findLatestCheckpoint: the newest complete folder; temp names and incomplete folders are never picked', async (t) => {
  const dir = tmp(t);
  t.is(await findLatestCheckpoint(path.join(dir, 'nothing')), null);
  // stream cut after 9 batches: checkpoint 224 (step 7) + final_288 (step 9)
  await run(toy(9), dir);
  const saeDir = path.join(dir, 'sae');
  t.deepEqual(fs.readdirSync(saeDir).sort(), ['224', 'final_288']);
  simulateCrashLeftovers(saeDir);
  const latest = await findLatestCheckpoint(saeDir);
  t.like(latest, { path: path.join(saeDir, 'final_288'), step: 9, tokens: 288, final: true });
  const mid = await findLatestCheckpoint(saeDir, { includeFinal: false });
  t.like(mid, { path: path.join(saeDir, '224'), step: 7, tokens: 224, final: false, data: { batchesConsumed: 7 } });
  t.is(await inspectCheckpoint(path.join(saeDir, '352')), null);
  t.is(await inspectCheckpoint(path.join(saeDir, '384')), null);
  t.is(await inspectCheckpoint(path.join(saeDir, '.320.tmp-4242-deadbeef')), null);
  t.deepEqual(dataPosition(mid!, 32), { batchesConsumed: 7, rows: 224 });
  t.deepEqual(dataPosition({ step: 3, data: {} }, 32), { batchesConsumed: 3, rows: 96 });
});

test.serial('resume on a live (toy) source: interrupted at step 7 or 9 and resumed = the uninterrupted run, bit for bit', async (t) => {
  const before = tf.memory().numTensors;
  const full = await finalWeights(await run(toy(), tmp(t)));
  const dir = tmp(t);
  await run(toy(9), dir);
  simulateCrashLeftovers(path.join(dir, 'sae'));
  for (const includeFinal of [false, true]) {
    const ck = (await findLatestCheckpoint(path.join(dir, 'sae'), { includeFinal }))!;
    const pos = dataPosition(ck, 32);
    const recs = await run(toy().pipe(skipBatches(pos.batchesConsumed)), tmp(t), { resume: ck.path });
    const done = recs.find((r) => r.type === 'done')!;
    t.like(done, { step: 12, tokens: 384 });
    const w = await finalWeights(recs);
    for (const k of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) t.deepEqual(w[k], full[k], `from step ${ck.step}: ${k}`);
  }
  t.is(tf.memory().numTensors, before);
});

test.serial('resume through a mixing buffer: regenerating and skipping the mixed batches gives the same SAE', async (t) => {
  const mixed = (src: Observable<ActivationBatch>) => src.pipe(mixingBuffer({ batchesInBuffer: 4, storeBatchSize: 32, trainBatchSize: 32, seed: 9 }));
  const full = await finalWeights(await run(mixed(toy()), tmp(t)));
  const dir = tmp(t);
  // interrupted: the stream of mixed batches stops after 8
  await run(mixed(toy()).pipe(take(8)), dir);
  const ck = (await findLatestCheckpoint(path.join(dir, 'sae'), { includeFinal: false }))!;
  t.is(ck.step, 7);
  const w = await finalWeights(await run(mixed(toy()).pipe(skipBatches(dataPosition(ck, 32).batchesConsumed)), tmp(t), { resume: ck.path }));
  for (const k of ['W_enc', 'W_dec', 'b_dec'] as const) t.deepEqual(w[k], full[k], k);
});

test.serial('resume on cached activations: continue at the checkpoint\'s row (shard/offset), same SAE as uninterrupted', async (t) => {
  const cache = path.join(tmp(t), 'cache');
  // shards of 40 rows: train batches of 32 straddle shard boundaries
  await cacheActivationsRunner(
    {
      model_name: 'toy', hook_point: 'hook_hidden', hook_point_head_index: null, dataset_path: 'toy', context_size: 10,
      new_cached_activations_path: cache, d_in: 4, n_batches_in_buffer: 1, store_batch_size: 4, training_tokens: 384, seed: 1,
      shuffle_every_n_buffers: 3, n_shuffles_with_last_section: 2, n_shuffles_in_entire_dir: 2, n_shuffles_final: 10,
    },
    { source: toy() },
  );
  const cached = (startRow = 0) => cachedActivations({ path: cache, batchSize: 32, trainingTokens: 384, startRow, expect: { dIn: 4, hookPoints: 'hook_hidden' } });
  const before = tf.memory().numTensors;
  const full = await finalWeights(await run(cached(), tmp(t)));
  const dir = tmp(t);
  await run(cached().pipe(take(8)), dir);
  const ck = (await findLatestCheckpoint(path.join(dir, 'sae'), { includeFinal: false }))!;
  const pos = dataPosition(ck, 32);
  t.deepEqual(pos, { batchesConsumed: 7, rows: 224 });
  const w = await finalWeights(await run(cached(pos.rows), tmp(t), { resume: ck.path }));
  for (const k of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) t.deepEqual(w[k], full[k], k);
  t.is(tf.memory().numTensors, before);
});
