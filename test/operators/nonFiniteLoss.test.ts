/**
 * A NaN/Inf loss is an error (issue 11, item 4): training stops, naming the SAE and the step,
 * unless the user opts in (TrainSaeOptions.allowNonFiniteLoss, `sae-rx train --allow-nan`).
 * Loading an SAE folder whose weights hold NaN/Inf, or whose sparsity has the wrong shape, is
 * an error naming the file and tensor.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, map, toArray } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { trainSae } from '../../src/operators/trainSae.js';
import { toyActivations } from '../../src/sources/toyActivations.js';
import { toyModel } from '../../src/sources/toyModel.js';
import { FileFormatError, StageError } from '../../src/errors.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { Sae, SaeSnapshot } from '../../src/sae/Sae.js';
import { loadSae, loadSaeSparsity, writeSaeFolder } from '../../src/sae/saeFolder.js';
import type { TrainEvent } from '../../src/stream/TrainEvent.js';
import { REPO, runMain } from '../cli/helpers.js';
import { spec } from './trainSaeHelpers.js';

let tmp: string;
test.before(async () => {
  await setupTf();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-nan-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const model = toyModel({ nFeatures: 8, nHidden: 4, featureProbability: 0.1 });
/** 12 toy batches; the one at index 5 has a NaN in its first row. */
const poisoned = () =>
  toyActivations(model, { batchSize: 32, seed: 2, batches: 12 }).pipe(
    map((b, i) => {
      if (i !== 5) return b;
      const acts = tf.tidy(() => tf.concat([tf.fill([1, 4], NaN), b.acts.slice([1, 0], [-1, -1])]));
      b.acts.dispose();
      return { ...b, acts };
    }),
  );

test.serial('trainSae(): a NaN loss errors the stream naming the SAE and step; nothing leaks', async (t) => {
  const before = tf.memory().numTensors;
  const recs: TrainEvent[] = [];
  const err = await new Promise<unknown>((resolve) =>
    poisoned().pipe(trainSae(spec({ id: 'l1_5' }), { warn: () => {}, handleSignals: false })).subscribe({ next: (r) => recs.push(r), error: resolve, complete: () => resolve(undefined) }),
  );
  t.true(err instanceof StageError, String(err));
  t.regex((err as Error).message, /^trainSae\(l1_5\) step 5: the loss is NaN .*allowNonFiniteLoss; sae-rx train --allow-nan/);
  t.deepEqual(recs.filter((r) => r.type === 'step').map((r) => r.step), [0, 1, 2, 3, 4]);
  t.is(tf.memory().numTensors, before);
});

test.serial('trainSae(): with allowNonFiniteLoss training goes on, warned once', async (t) => {
  const recs = await firstValueFrom(poisoned().pipe(trainSae(spec(), { warn: () => {}, handleSignals: false, allowNonFiniteLoss: true }), toArray()));
  t.is(recs.filter((r) => r.type === 'step').length, 12);
  const warnings = recs.filter((r) => r.type === 'warning');
  t.is(warnings.length, 1);
  t.regex((warnings[0] as { message: string }).message, /step 5: the loss is NaN/);
});

const TOY = path.join(REPO, 'test/fixtures/cli/toy.yaml');
test.serial('sae-rx train: an exploding run (lr 1e30) exits 1 naming the SAE and step; --allow-nan lets it finish', async (t) => {
  const stopped = await runMain(['train', TOY, '--out', path.join(tmp, 'stop'), '--lr', '1e30', '--no-progress', '--total-training-tokens', '5120']);
  t.is(stopped.code, 1, stopped.stderr);
  t.regex(stopped.stderr, /failed: trainSae\(sae\) step \d+: the loss is (NaN|-?Infinity)/);
  t.regex(stopped.stderr, /--allow-nan/);
  const allowed = await runMain(['train', TOY, '--out', path.join(tmp, 'allow'), '--lr', '1e30', '--no-progress', '--total-training-tokens', '5120', '--allow-nan']);
  t.is(allowed.code, 0, allowed.stderr);
  const help = await runMain(['train', '--help']);
  t.regex(help.stdout, /--allow-nan\s+keep training when a step's loss is NaN or Inf/);
});

test.serial('loadSae: NaN/Inf weights are an error naming the file and tensor; so is a sparsity of the wrong shape', async (t) => {
  const sae = Sae.create({ ...spec().sae, dIn: 4, dSae: 8 }, { seed: 1 });
  const snap = sae.snapshot();
  sae.dispose();
  const dir = path.join(tmp, 'nan-sae');
  const W_dec = snap.W_dec.slice();
  W_dec[9] = NaN;
  W_dec[10] = Infinity;
  await writeSaeFolder(dir, new SaeSnapshot(snap.cfg, { ...snap.params, W_dec }, snap.state));
  await t.throwsAsync(loadSae(dir), { instanceOf: FileFormatError, message: /sae_weights\.safetensors: tensor "W_dec" holds NaN at index 9 \(2 non-finite values\)/ });

  const ok = path.join(tmp, 'bad-sparsity');
  await writeSaeFolder(ok, snap, { sparsity: new Float32Array(8).fill(0.1) });
  t.is((await loadSaeSparsity(ok))!.length, 8);
  fs.writeFileSync(path.join(ok, 'sparsity.safetensors'), encodeSafetensors({ sparsity: { dtype: 'F32', shape: [9], data: new Float32Array(9) } }));
  await t.throwsAsync(loadSaeSparsity(ok), { instanceOf: FileFormatError, message: /sparsity\.safetensors: tensor "sparsity" has shape \[9\], expected \[8\] \(d_sae of cfg\.json\)/ });
});
