import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { concat, filter, firstValueFrom, from, map, take, throwError, toArray, tap, lastValueFrom } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { TrainSaeHandle, trainSae } from '../../src/operators/trainSae.js';
import { batch } from '../../src/operators/batch.js';
import { mixingBuffer } from '../../src/operators/mixingBuffer.js';
import { normalizeActivations } from '../../src/operators/normalizeActivations.js';
import { toyActivations } from '../../src/sources/toyActivations.js';
import { toyModel } from '../../src/sources/toyModel.js';
import { fromPull } from '../../src/sources/fromPull.js';
import { sinksWith } from '../../src/sinks/sinks.js';
import { readCheckpointState, writeSaeFolderFiles } from '../../src/train/checkpointWriter.js';
import { StageError } from '../../src/errors.js';
import type { SaeSnapshot } from '../../src/sae/Sae.js';
import type { TrainEvent, StepRecord } from '../../src/stream/TrainEvent.js';
import type { ActivationBatch } from '../../src/stream/ActivationBatch.js';
import { ConfigError } from '../../src/errors.js';
import { spec } from './trainSaeHelpers.js';
import { tempDir } from '../helpers/tempDir.js';
import { withDefaults } from '../sae/archFields.js';

test.before(async () => {
  await setupTf();
});

const model = toyModel({ nFeatures: 8, nHidden: 4, featureProbability: 0.1 });
const toy = (batches?: number, seed = 1) => toyActivations(model, { batchSize: 32, seed, batches });
const tmp = (t: ExecutionContext) => tempDir(t, 'trainsae-');
const quiet = { warn: () => {}, handleSignals: false };

test.serial('trainSae(): step records, n_checkpoints checkpoints + final SAE folder, done; no tensor left', async (t) => {
  const dir = tmp(t);
  const before = tf.memory().numTensors;
  const recs = await firstValueFrom(toy().pipe(trainSae(spec(), { ...quiet, checkpointPath: dir, nCheckpoints: 4 }), toArray()));
  t.is(tf.memory().numTensors, before);
  const steps = recs.filter((r): r is StepRecord => r.type === 'step');
  t.deepEqual(steps.map((s) => s.step), [...Array(12).keys()]);
  t.deepEqual(steps.map((s) => s.tokens), steps.map((s) => (s.step + 1) * 32));
  t.true(steps.every((s) => Number.isFinite(s.losses.total) && s.saeId === 'sae'));
  const ckpts = recs.filter((r) => r.type === 'checkpoint');
  // total 384 tokens, thresholds 96, 192, 288 → after 128, 224, 320 tokens; then final_384
  t.deepEqual(ckpts.map((c) => path.relative(dir, (c as { path: string }).path)), ['sae/128', 'sae/224', 'sae/320', 'sae/final_384']);
  for (const c of ckpts) {
    const p = (c as { path: string }).path;
    t.true(fs.existsSync(path.join(p, 'cfg.json')) && fs.existsSync(path.join(p, 'sae_weights.safetensors')) && fs.existsSync(path.join(p, 'sparsity.safetensors')));
  }
  const st = await readCheckpointState(path.join(dir, 'sae', '224'));
  t.is(st.trainerState.step, 7);
  t.is(st.tokens, 224);
  t.is(st.trainerState.stepsSinceFired.length, 8);
  const done = recs[recs.length - 1]!;
  t.deepEqual(done, { type: 'done', saeId: 'sae', step: 12, tokens: 384, path: path.join(dir, 'sae', 'final_384') });
  fs.rmSync(dir, { recursive: true });
});

test.serial('trainSae(): resuming from a checkpoint continues bit for bit (weights, optimizer, counters, tokens)', async (t) => {
  const dir = tmp(t);
  const finals = new Map<string, SaeSnapshot>();
  const keep = (tag: string) => (d: string, snap: SaeSnapshot, extra: object) => {
    if (/final_/.test(d)) finals.set(tag, snap);
    writeSaeFolderFiles(d, snap, extra);
  };
  const s = spec({ sae: { bDecInitMethod: 'geometric_median', useGhostGrads: true }, trainer: { useGhostGrads: true, deadFeatureWindow: 2, lrWarmUpSteps: 4, l1WarmUpSteps: 3 } });
  await lastValueFrom(toy().pipe(trainSae(s, { ...quiet, checkpointPath: path.join(dir, 'straight'), writeSaeFolder: keep('straight') })));
  await lastValueFrom(toy().pipe(trainSae(s, { ...quiet, checkpointPath: path.join(dir, 'first'), nCheckpoints: 2 })));
  const ck = path.join(dir, 'first', 'sae', '224');
  const st = await readCheckpointState(ck);
  t.is(st.data.batchesConsumed, 7);
  const before = tf.memory().numTensors;
  const recs = await firstValueFrom(
    toy().pipe(filter((b, i) => i >= 7 || (b.acts.dispose(), false)), trainSae(s, { ...quiet, resume: ck, checkpointPath: path.join(dir, 'resumed'), writeSaeFolder: keep('resumed') }), toArray()),
  );
  t.is(tf.memory().numTensors, before);
  t.deepEqual(recs.filter((r) => r.type === 'step').map((r) => r.step), [7, 8, 9, 10, 11]);
  t.deepEqual(recs[recs.length - 1], { type: 'done', saeId: 'sae', step: 12, tokens: 384, path: path.join(dir, 'resumed', 'sae', 'final_384') });
  const a = finals.get('straight')!;
  const b = finals.get('resumed')!;
  for (const k of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) t.deepEqual(Array.from(b[k]), Array.from(a[k]), k);
  await t.throwsAsync(lastValueFrom(toy().pipe(trainSae(s, { ...quiet, resume: path.join(dir, 'nope') }))), { message: /training_state\.json/ });
  t.throws(() => trainSae(s, { resume: { other: ck } }), { instanceOf: ConfigError, message: /resume names SAE 'other'/ });
  fs.rmSync(dir, { recursive: true });
});

test.serial('trainSae(): the norm scaling factor from normalizeActivations is folded into the saved SAE', async (t) => {
  const dir = tmp(t);
  let factor = 0;
  const recs = await firstValueFrom(
    toy().pipe(normalizeActivations('expected_average_only_in', { estimationTokens: 64, onFactor: (f) => (factor = f) }), trainSae(spec(), { ...quiet, checkpointPath: dir }), toArray()),
  );
  const done = recs[recs.length - 1] as { path: string };
  const st = await readCheckpointState(done.path);
  t.is(st.normScalingFactor, factor);
  t.true(factor > 0 && factor !== 1);
  const { loadSae } = await import('../../src/sae/saeFolder.js');
  const sae = await loadSae(done.path);
  const snap = sae.snapshot();
  t.true(Math.abs(snap.W_enc[3]! - st.weights.W_enc[3]! * factor) < 1e-5);
  t.true(Math.abs(snap.b_dec[1]! - st.weights.b_dec[1]! / factor) < 1e-5);
  sae.dispose();
  fs.rmSync(dir, { recursive: true });
});

test.serial('trainSae(): logEvery thins step records (the last step is always logged)', async (t) => {
  const recs = await firstValueFrom(toy().pipe(trainSae(spec(), { ...quiet, logEvery: 5 }), toArray()));
  t.deepEqual(recs.filter((r) => r.type === 'step').map((r) => r.step), [0, 5, 10, 11]);
  t.is(recs[recs.length - 1]!.type, 'done');
});

test.serial('trainSae(): a sweep of 4 SAEs over one stream trains each exactly as alone on the same batches, reading the source once', async (t) => {
  const specs = [
    spec({ id: 'a' }),
    spec({ id: 'b', trainer: { l1Coefficient: 3e-3 } }),
    spec({ id: 'c', trainer: { lr: 3e-3 }, sae: { seed: 7 } }),
    spec({ id: 'd', sae: { dSae: 16, bDecInitMethod: 'geometric_median' } }),
  ];
  const capture = () => {
    const snaps = new Map<string, SaeSnapshot>();
    const writer = (dir: string, snap: SaeSnapshot) => {
      snaps.set(dir, snap);
    };
    return { snaps, writer };
  };
  let pulled = 0;
  const counted = () => toy(undefined, 3).pipe(tap(() => pulled++));
  const sweepDir = tmp(t);
  t.teardown(() => fs.rmSync(sweepDir, { recursive: true, force: true }));
  const sweep = capture();
  const before = tf.memory().numTensors;
  const recs = await firstValueFrom(counted().pipe(trainSae(specs, { ...quiet, checkpointPath: sweepDir, writeSaeFolder: sweep.writer }), toArray()));
  t.is(tf.memory().numTensors, before);
  t.is(pulled, 12, 'one pass over the source: each batch used by every SAE');
  t.deepEqual(recs.filter((r) => r.type === 'done').map((r) => r.saeId), ['a', 'b', 'c', 'd']);
  for (const s of specs) {
    const alone = capture();
    await lastValueFrom(toy(undefined, 3).pipe(trainSae(s, { ...quiet, checkpointPath: sweepDir, writeSaeFolder: alone.writer })));
    const a = finalOfTmp(alone.snaps, s.id!);
    const b = finalOfTmp(sweep.snaps, s.id!);
    t.deepEqual(Array.from(b.W_dec), Array.from(a.W_dec), `${s.id}: W_dec`);
    t.deepEqual(Array.from(b.W_enc), Array.from(a.W_enc), `${s.id}: W_enc`);
    t.deepEqual(Array.from(b.b_dec), Array.from(a.b_dec), `${s.id}: b_dec`);
  }
  t.notDeepEqual(Array.from(finalOfTmp(sweep.snaps, 'a').W_dec), Array.from(finalOfTmp(sweep.snaps, 'b').W_dec));
});

/** writeCheckpoint calls the SAE writer on a temporary sibling of `<path>/<id>/final_<tokens>`. */
function finalOfTmp(m: Map<string, SaeSnapshot>, id: string): SaeSnapshot {
  const hit = [...m.entries()].filter(([k]) => k.split(path.sep).includes(id) && /final_/.test(k));
  if (hit.length === 0) throw new Error(`no final snapshot for ${id} in ${[...m.keys()].join(', ')}`);
  return hit[hit.length - 1]![1];
}

test.serial('trainSae(): no leak on error mid-stream, on early unsubscribe, on a failing step', async (t) => {
  const before = tf.memory().numTensors;
  const err = await new Promise<unknown>((resolve) =>
    concat(toy(3), throwError(() => new Error('upstream died'))).pipe(trainSae(spec(), quiet)).subscribe({ error: resolve }),
  );
  t.is((err as Error).message, 'upstream died');
  t.is(tf.memory().numTensors, before);
  const some = await firstValueFrom(toy().pipe(trainSae(spec(), quiet), take(3), toArray()));
  t.is(some.length, 3);
  t.is(tf.memory().numTensors, before);
  const bad = toy().pipe(map((b, i): ActivationBatch => (i === 4 ? { ...b, acts: tf.tidy(() => { const x = tf.concat([b.acts, b.acts], 1); b.acts.dispose(); return x; }) } : b)));
  const e2 = await new Promise<unknown>((resolve) => bad.pipe(trainSae(spec(), quiet)).subscribe({ error: resolve }));
  t.regex((e2 as Error).message, /trainSae\(\).*d_in 4.*8/);
  t.is(tf.memory().numTensors, before);
  t.throws(() => trainSae([], quiet), { instanceOf: ConfigError, message: /trainSae\(\)/ });
  t.throws(() => trainSae(spec(), { logEvery: 0 }), { instanceOf: ConfigError, message: /logEvery.*0/ });
});

test.serial('trainSae(): a throwing sink does not stop training; the others get every record', async (t) => {
  const got: TrainEvent[] = [];
  const warnings: string[] = [];
  await new Promise<void>((resolve) =>
    toy().pipe(trainSae(spec(), quiet)).subscribe(
      sinksWith({ warn: (m) => warnings.push(m) }, { next: () => { throw new Error('sink broke'); } }, { next: (r: TrainEvent) => got.push(r), complete: () => resolve() }),
    ),
  );
  t.is(got.filter((r) => r.type === 'step').length, 12);
  t.is(got[got.length - 1]!.type, 'done');
  t.is(warnings.filter((w) => /sink broke/.test(w)).length, 1);
});

test.serial('trainSae(): a failed mid-run checkpoint is a loud warning record; a lost final SAE errors the stream, naming the stage', async (t) => {
  const warned: string[] = [];
  const dir = tmp(t);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const recs: TrainEvent[] = [];
  const err = await new Promise<unknown>((resolve) =>
    toy()
      .pipe(trainSae(spec(), { handleSignals: false, warn: (m) => warned.push(m), checkpointPath: dir, nCheckpoints: 2, writeSaeFolder: () => { throw new Error('disk full'); } }))
      .subscribe({ next: (r) => recs.push(r), error: resolve, complete: () => resolve(undefined) }),
  );
  const w = recs.filter((r) => r.type === 'warning');
  t.is(w.length, 2, 'the mid-run checkpoint and the final SAE');
  t.true(w.every((r) => /FAILED: disk full/.test((r as { message: string }).message)));
  t.is(warned.length, 2);
  t.deepEqual(recs.filter((r) => r.type === 'step').length, 12, 'training went on after the failed checkpoint');
  t.true(err instanceof StageError, String(err));
  t.regex((err as Error).message, new RegExp(`^trainSae\\(sae\\): writing the final SAE to ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/sae/final_384: disk full$`));
  t.deepEqual(fs.readdirSync(path.join(dir, 'sae')), [], 'no temporary folder left behind');
});

test.serial('trainSae(): a checkpoint is on disk before the next step, even on a stream that never yields to the event loop', async (t) => {
  const dir = tmp(t);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // a plain synchronous source: the whole run happens inside subscribe()
  const batches: ActivationBatch[] = [];
  batches.push(...(await firstValueFrom(toy(12).pipe(toArray()))));
  const seen: Array<{ step: number; onDisk: string[] }> = [];
  from(batches)
    .pipe(
      trainSae(spec(), { ...quiet, checkpointPath: dir, nCheckpoints: 4 }),
      tap((r) => {
        if (r.type === 'step') seen.push({ step: r.step, onDisk: fs.existsSync(path.join(dir, 'sae')) ? fs.readdirSync(path.join(dir, 'sae')).filter((n) => !n.startsWith('.')).sort() : [] });
      }),
    )
    .subscribe();
  t.is(seen.length, 12, 'the whole run happened inside subscribe()');
  // checkpoints after 128, 224, 320 tokens: steps 3, 6, 9 (0-based)
  t.deepEqual(seen[4]!.onDisk, ['128']);
  t.deepEqual(seen[7]!.onDisk, ['128', '224']);
  t.deepEqual(seen[10]!.onDisk, ['128', '224', '320']);
  t.deepEqual(fs.readdirSync(path.join(dir, 'sae')).sort(), ['128', '224', '320', 'final_384']);
});

test.serial('trainSae(): with a slow consumer the source is never more than a fixed number of batches ahead', async (t) => {
  let made = 0;
  let trained = 0;
  let maxAhead = 0;
  const src = fromPull(async function* () {
    for (let i = 0; ; i++) {
      made++;
      yield { acts: tf.randomNormal([16, 4], 0, 1, 'float32', i) as tf.Tensor2D, hooks: ['hook_hidden'] } as ActivationBatch;
    }
  }, { discard: (b) => b.acts.dispose() });
  const slowSink = (r: TrainEvent) => {
    if (r.type !== 'step') return;
    trained = r.tokens / 32;
    maxAhead = Math.max(maxAhead, made * 16 / 32 - trained);
    const until = Date.now() + 3;
    while (Date.now() < until); // a slow, synchronous consumer
  };
  const before = tf.memory().numTensors;
  await lastValueFrom(src.pipe(mixingBuffer({ batchesInBuffer: 4, storeBatchSize: 16, seed: 0 }), batch(32), trainSae(spec(), quiet), tap(slowSink)));
  // the mixing buffer holds 2 store batches (32 rows) + a refill of 2: at most ~3 train batches ahead
  t.true(maxAhead <= 3, `source was ${maxAhead} train batches ahead`);
  t.true(made <= 12 * 2 + 8, `made ${made} store batches for 12 steps`);
  t.is(tf.memory().numTensors, before);
});

test.serial('trainSae(): SIGINT during training writes a checkpoint, then the process exits', async (t) => {
  const dir = tmp(t);
  const child = spawn(process.execPath, ['--import=tsx', path.join(import.meta.dirname, 'fixtures', 'sigintTrain.ts'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child never started training: ${out} ${err}`)), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('training')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGINT');
  const { code, signal } = await exited;
  t.true(signal === 'SIGINT' || code === 130, `exit ${code} ${signal}; stderr: ${err}`);
  const saeDir = path.join(dir, 'sae');
  const names = fs.readdirSync(saeDir).filter((n) => !n.startsWith('.'));
  t.is(names.length, 1, `one checkpoint: ${names.join(', ')}`);
  const ck = path.join(saeDir, names[0]!);
  t.true(fs.existsSync(path.join(ck, 'cfg.json')) && fs.existsSync(path.join(ck, 'sae_weights.safetensors')));
  const st = await readCheckpointState(ck);
  t.is(st.tokens, Number(names[0]));
  t.true(st.trainerState.step >= 4);
  t.regex(out, /checkpoint /);
  t.regex(out, /error trainSae: interrupted by SIGINT/);
  t.regex(err, /SIGINT received/);
  fs.rmSync(dir, { recursive: true });
});

test.serial('TrainSaeHandle: saeOf gives the live SAE inside the stream (the weights of the step just taken), nothing once finished', async (t) => {
  const handle = new TrainSaeHandle();
  const before = tf.memory().numTensors;
  const seenAt: number[] = [];
  const bDecs: number[][] = [];
  await lastValueFrom(
    toy().pipe(
      trainSae(spec({ trainer: { totalTrainingSteps: 4 } }), { ...quiet, handle }),
      tap((r) => {
        if (r.type !== 'step') return;
        const live = handle.saeOf('sae');
        if (live && !live.sae.isDisposed) seenAt.push(r.step);
        bDecs.push(Array.from(live!.sae.snapshot().b_dec));
        t.is(handle.saeOf('other'), undefined);
      }),
      toArray(),
    ),
  );
  t.deepEqual(seenAt, [0, 1, 2, 3]);
  t.notDeepEqual(bDecs[0], bDecs[3], 'the weights move step by step');
  t.is(handle.saeOf('sae'), undefined, 'detached after the stream');
  t.is(tf.memory().numTensors, before);
  // one subscription at a time
  const op = trainSae(spec(), { ...quiet, handle });
  const sub = toy().pipe(op).subscribe({ error: () => {} });
  await t.throwsAsync(lastValueFrom(toy().pipe(op)), { instanceOf: ConfigError, message: /one subscription at a time/ });
  sub.unsubscribe();
  t.is(tf.memory().numTensors, before);
});

test.serial('trainSae(): a skip transcoder resumes bit for bit, its target norm factor restored from the checkpoint', async (t) => {
  const dir = tmp(t);
  const finals = new Map<string, { snap: SaeSnapshot; extra: object }>();
  const keep = (tag: string) => (d: string, snap: SaeSnapshot, extra: object) => {
    if (/final_/.test(d)) finals.set(tag, { snap, extra });
    writeSaeFolderFiles(d, snap, extra);
  };
  const s = spec({
    sae: { architecture: 'skip_transcoder', archFields: withDefaults('skip_transcoder'), normalizeSaeDecoder: false, dOut: 3, applyBDecToInput: false, hookPointOut: 'toy_target' },
    trainer: { deadFeatureWindow: 2, lrWarmUpSteps: 4 },
  });
  const map43 = [1, 0, -1, 0.5, 1, 0, 0, -0.5, 1, 1, 0, 0];
  // the target: a fixed linear map of the same rows, 3 wide; both sides carry a norm factor (as normalizeActivations gives)
  const withTarget = (b: ActivationBatch): ActivationBatch => ({
    ...b, normScalingFactor: 1.5, targetNormScalingFactor: 0.75, targetHook: 'toy_target',
    target: tf.tidy(() => tf.matMul(b.acts as tf.Tensor2D, tf.tensor2d(map43, [4, 3]))),
  });
  await lastValueFrom(toy().pipe(map(withTarget), trainSae(s, { ...quiet, checkpointPath: path.join(dir, 'straight'), writeSaeFolder: keep('straight') })));
  await lastValueFrom(toy().pipe(map(withTarget), trainSae(s, { ...quiet, checkpointPath: path.join(dir, 'first'), nCheckpoints: 2 })));
  const ck = path.join(dir, 'first', 'sae', '224');
  const before = tf.memory().numTensors;
  // the resumed stream's batches carry no factors: the checkpoint's must be used
  const recs = await firstValueFrom(
    toy().pipe(
      filter((b, i) => i >= 7 || (b.acts.dispose(), false)),
      map((b) => { const w = withTarget(b); return { acts: w.acts, hooks: w.hooks, target: w.target!, targetHook: 'toy_target' } as ActivationBatch; }),
      trainSae(s, { ...quiet, resume: ck, checkpointPath: path.join(dir, 'resumed'), writeSaeFolder: keep('resumed') }),
      toArray(),
    ),
  );
  t.is(tf.memory().numTensors, before, 'no tensor left');
  t.deepEqual(recs.filter((r) => r.type === 'step').map((r) => r.step), [7, 8, 9, 10, 11]);
  const a = finals.get('straight')!;
  const b = finals.get('resumed')!;
  t.deepEqual(Object.keys(b.snap.params).sort(), ['W_dec', 'W_enc', 'W_skip', 'b_dec', 'b_enc']);
  for (const k of Object.keys(a.snap.params)) t.deepEqual(Array.from(b.snap.params[k]!), Array.from(a.snap.params[k]!), k);
  t.deepEqual(b.extra, a.extra, 'the same norm factors go to the saved folder');
  t.like(a.extra, { targetNormScalingFactor: 0.75 });
  t.true(a.snap.params['W_skip']!.some((v) => v !== 0), 'W_skip trained');
  fs.rmSync(dir, { recursive: true });
});
