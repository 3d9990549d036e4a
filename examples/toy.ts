/**
 * Toy models of superposition, end to end and offline (SAELens's toy-model runner as an Rx
 * pipeline): train a ReLU toy model that squeezes 10 sparse features into 5 dims, train an SAE
 * on its hidden activations, and check that the SAE's decoder rows find the true feature
 * directions.
 *
 *   toyActivations → mixingBuffer → batch → trainSae → sinks(consoleSink, jsonlSink)
 *
 * Writes `./runs/toy-<timestamp>/`: records.jsonl, the SAE folder `sae/final_<tokens>/` and
 * report.html (the run's training report).
 * `npm run example -- toy` (about a minute on 2 cores); `-- toy --quick` for a short smoke run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lastValueFrom } from 'rxjs';
import {
  DEFAULT_SAE_CONFIG,
  DEFAULT_TRAINER_CONFIG,
  batch,
  consoleSink,
  jsonlSink,
  loadSae,
  mixingBuffer,
  selectBackend,
  sinks,
  toyActivations,
  toyFeatureRecovery,
  toyModel,
  trainSae,
  trainToyModel,
  writeReport,
  type FeatureRecovery,
  type TrainEvent,
} from '../src/index.js';

export const description = 'toy model of superposition (10 features in 5 dims) → SAE; reports feature recovery';

export interface ToyRunOptions {
  readonly quick?: boolean;
  /** Parent of the run folder (default ./runs). */
  readonly runsDir?: string;
  /** Console output (default true). */
  readonly verbose?: boolean;
}

export interface ToyRunResult {
  readonly runDir: string;
  readonly saeDir: string;
  readonly recovery: FeatureRecovery;
  readonly tokensPerSecond: number;
  readonly last: { l0: number; mse: number; explainedVariance: number };
}

export async function runToy(opts: ToyRunOptions = {}): Promise<ToyRunResult> {
  const quick = opts.quick ?? false;
  const verbose = opts.verbose ?? true;
  const log = (s: string) => verbose && process.stderr.write(s + '\n');
  await selectBackend({ log: verbose ? (l) => log(l) : () => {} });

  // The toy model: SAELens's runner trains 10 000 steps of 1024 with Adam lr 1e-3.
  const nFeatures = 10;
  const nHidden = 5;
  const toySteps = quick ? 1500 : 10_000;
  log(`training the toy model: ${nFeatures} features in ${nHidden} dims, ${toySteps} steps`);
  const model = trainToyModel(toyModel({ nFeatures, nHidden, featureProbability: 0.05, seed: 42 }), {
    steps: toySteps,
    logEvery: 2000,
    onLog: (step, loss) => log(`  toy step ${step}: loss ${loss.toExponential(3)}`),
  });
  log(`  final toy loss ${model.loss?.toExponential(3)}`);

  // The SAE: 2× expansion over the true features; a strong L1 for these unit-scale activations.
  const trainBatchSize = 1024;
  const totalTrainingSteps = quick ? 600 : 1500;
  const spec = {
    id: 'sae',
    sae: { ...DEFAULT_SAE_CONFIG, dIn: nHidden, dSae: 2 * nFeatures, hookPoint: 'hook_hidden', modelName: 'toy', contextSize: 1, seed: 42 },
    trainer: {
      ...DEFAULT_TRAINER_CONFIG,
      lr: quick ? 1e-2 : 3e-3,
      lrWarmUpSteps: 0,
      l1Coefficient: 0.1,
      trainBatchSize,
      totalTrainingSteps,
      featureSamplingWindow: 100,
      deadFeatureWindow: 100,
    },
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = path.resolve(opts.runsDir ?? 'runs', `toy-${stamp}`);
  fs.mkdirSync(runDir, { recursive: true });
  log(`training the SAE (d_sae ${spec.sae.dSae}, ${totalTrainingSteps} steps of ${trainBatchSize}) → ${runDir}`);

  let last: TrainEvent | undefined;
  let finalDir: string | undefined;
  const t0 = Date.now();
  const records$ = toyActivations(model, { batchSize: 1024, seed: 1 }).pipe(
    mixingBuffer({ batchesInBuffer: 8, storeBatchSize: 1024, seed: 2 }),
    batch(trainBatchSize),
    trainSae(spec, { checkpointPath: runDir, logEvery: 10 }),
  );
  const progress = verbose ? consoleSink({ totalSteps: totalTrainingSteps, intervalMs: 5000 }) : {};
  await new Promise<void>((resolve, reject) =>
    records$.subscribe(
      sinks(progress, jsonlSink(path.join(runDir, 'records.jsonl')), {
        next: (r: TrainEvent) => {
          if (r.type === 'step') last = r;
          if (r.type === 'done') finalDir = r.path;
        },
        error: reject,
        complete: resolve,
      }),
    ),
  );
  const seconds = (Date.now() - t0) / 1000;
  if (!finalDir) throw new Error('toy example: the final SAE was not written (see the warnings above)');

  // Recovery: the SAE folder is saved in SAELens's layout; load it back and compare its decoder
  // rows with the toy model's feature directions W[:, i].
  const report = await writeReport(runDir, { title: 'sae-rx toy model run' });
  const sae = await loadSae(finalDir);
  const recovery = toyFeatureRecovery(model, sae.snapshot().W_dec, 0.9);
  sae.dispose();
  const step = last?.type === 'step' ? last : undefined;
  const result: ToyRunResult = {
    runDir,
    saeDir: finalDir,
    recovery,
    tokensPerSecond: (totalTrainingSteps * trainBatchSize) / seconds,
    last: { l0: step?.l0 ?? NaN, mse: step?.losses.mse ?? NaN, explainedVariance: step?.explainedVarianceMean ?? NaN },
  };
  if (verbose) {
    process.stdout.write(
      [
        `SAE folder: ${finalDir}`,
        `report: ${report}`,
        `final L0 ${result.last.l0.toFixed(3)}, MSE ${result.last.mse.toExponential(3)}, explained variance ${result.last.explainedVariance.toFixed(4)}`,
        `${Math.round(result.tokensPerSecond)} tokens/s`,
        `feature recovery: ${recovery.recovered}/${nFeatures} true features have a decoder row with cosine > ${recovery.threshold}; mean max-cosine ${recovery.meanMaxCosine.toFixed(4)}`,
        `  per feature: ${recovery.maxCosine.map((c) => c.toFixed(3)).join(' ')}`,
        '',
      ].join('\n'),
    );
  }
  return result;
}

export async function main(args: string[]): Promise<void> {
  await runToy({ quick: args.includes('--quick') });
}
