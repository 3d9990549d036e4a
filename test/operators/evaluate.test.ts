import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, from, toArray } from 'rxjs';
import { useTinyGpt2 } from '../helpers/tinyGpt2.js';
import { loadSae } from '../../src/sae/saeFolder.js';
import { evaluate, isEvalStep } from '../../src/operators/evaluate.js';
import { modelActivations } from '../../src/operators/modelActivations.js';
import type { TokenBatch } from '../../src/stream/TokenBatch.js';
import { trainSae } from '../../src/operators/trainSae.js';
import { fromPull } from '../../src/sources/fromPull.js';
import { seededRandom } from '../../src/stream/rng.js';
import type { EvalRecord, StepRecord, TrainEvent } from '../../src/stream/TrainEvent.js';
import { DEFAULT_SAE_CONFIG } from '../../src/sae/SaeConfig.js';
import { DEFAULT_TRAINER_CONFIG } from '../../src/train/TrainerConfig.js';
import { tempDir } from '../helpers/tempDir.js';

const FIX = path.resolve('test/fixtures/evals');
const ref = JSON.parse(fs.readFileSync(path.join(FIX, 'evals_reference.json'), 'utf8')) as { batches: number[][][]; expected: Record<string, number> };

// raw HF weights, as the reference (test/fixtures/evals)
const { withModel, model } = useTinyGpt2('evaluate', { processWeights: false });

test('isEvalStep: SAELens cadence (step + 1) % (wandb_log_frequency × eval_every_n_wandb_logs) == 0', (t) => {
  t.true(isEvalStep(999));
  t.false(isEvalStep(1000));
  t.deepEqual([...Array(10).keys()].filter((s) => isEvalStep(s, 2, 2)), [3, 7]);
});

const stepRec = (step: number): StepRecord => ({
  type: 'step', saeId: 'sae', step, tokens: (step + 1) * 48, losses: { mse: 1, l1: 1, ghost: 0, total: 2 },
  l0: 1, explainedVarianceMean: 0, explainedVarianceStd: 0, deadFeatures: 0, lr: 1, l1Coefficient: 1, phase: 'train',
});

withModel('evaluate(): live SAE at the cadence, checkpoint folders, the final SAE before done; records in order', async (t) => {
  const sae = await loadSae(path.join(FIX, 'sae'));
  const before = tf.memory().numTensors;
  const recs: TrainEvent[] = [
    stepRec(0), stepRec(1), stepRec(2),
    { type: 'checkpoint', saeId: 'sae', step: 3, tokens: 144, path: path.join(FIX, 'sae') },
    stepRec(3),
    { type: 'done', saeId: 'sae', step: 4, tokens: 192, path: path.join(FIX, 'sae') }, // already evaluated: not again
  ];
  const timings: number[] = [];
  const out = await firstValueFrom(
    from(recs).pipe(
      evaluate({ model: model(), tokens: ref.batches, wandbLogFrequency: 1, evalEveryNWandbLogs: 2, saeOf: (id) => (id === 'sae' ? { sae } : undefined), onTiming: (ms) => timings.push(ms) }),
      toArray(),
    ),
  );
  t.deepEqual(out.map((r) => `${r.type}:${r.step}`), ['step:0', 'step:1', 'eval:1', 'step:2', 'checkpoint:3', 'eval:3', 'step:3', 'eval:3', 'done:4']);
  const ev = out.filter((r): r is EvalRecord => r.type === 'eval');
  for (const e of ev) t.true(Math.abs(e.metrics.ce_loss_score! - ref.expected.ce_loss_score!) < 1e-4);
  t.is(ev[0]!.tokens, 96);
  t.is(timings.length, 3);
  t.is(tf.memory().numTensors, before);
  sae.dispose();
  // a failing eval is a warning, not an error
  const bad = await firstValueFrom(
    from([{ type: 'checkpoint', saeId: 'sae', step: 1, tokens: 1, path: '/nonexistent/sae' } as TrainEvent]).pipe(evaluate({ model: model(), tokens: ref.batches }), toArray()),
  );
  t.deepEqual(bad.map((r) => r.type), ['checkpoint', 'warning']);
  t.regex((bad[1] as { message: string }).message, /eval at step 1 failed: .*cfg\.json/);
});

withModel('evaluate(): tiny GPT-2 → modelActivations → trainSae → evaluate: eval records for the checkpoint and the final SAE', async (t) => {
  const hook = 'blocks.1.hook_resid_pre';
  const rnd = seededRandom(11);
  const tokenBatches = (k: number) =>
    fromPull(function* (): Generator<TokenBatch> {
      for (let i = 0; i < k; i++) {
        const tokens = new Int32Array(8 * 16);
        for (let j = 0; j < tokens.length; j++) tokens[j] = j % 16 === 0 ? 50256 : Math.floor(rnd() * 5000);
        yield { tokens, n: 8, contextSize: 16 };
      }
    });
  const spec = {
    sae: { ...DEFAULT_SAE_CONFIG, dIn: 128, dSae: 256, hookPoint: hook, hookPointLayer: 1, bDecInitMethod: 'mean' as const, modelName: 'tiny-gpt2-sotu', contextSize: 16 },
    trainer: { ...DEFAULT_TRAINER_CONFIG, trainBatchSize: 128, totalTrainingSteps: 6, lrWarmUpSteps: 0, lr: 1e-3 },
  };
  const before = tf.memory().numTensors;
  const recs = await firstValueFrom(
    tokenBatches(6).pipe(
      modelActivations(model(), { hooks: [hook] }),
      trainSae(spec, { warn: () => {}, handleSignals: false, checkpointPath: tempDir(t, 'evaluate-'), nCheckpoints: 2 }),
      evaluate({ model: model(), tokens: ref.batches }),
      toArray(),
    ),
  );
  t.is(tf.memory().numTensors, before);
  const kinds = recs.filter((r) => r.type !== 'step').map((r) => `${r.type}:${r.step}`);
  t.deepEqual(kinds, ['checkpoint:4', 'eval:4', 'checkpoint:6', 'eval:6', 'done:6']);
  const last = recs.filter((r): r is EvalRecord => r.type === 'eval').pop()!;
  for (const k of ['ce_loss_score', 'ce_loss_with_sae', 'ce_loss_without_sae', 'ce_loss_with_ablation', 'kl_div', 'l0', 'l2_ratio', 'explained_variance'])
    t.true(Number.isFinite(last.metrics[k]), k);
  t.true(Math.abs(last.metrics.ce_loss_without_sae! - ref.expected.ce_loss_without_sae!) < 1e-4, 'clean loss is the model\'s');
  t.log(`after 6 steps: ce_loss_score ${last.metrics.ce_loss_score!.toFixed(3)}, l0 ${last.metrics.l0!.toFixed(1)}, kl ${last.metrics.kl_div!.toFixed(3)}`);
});
