/**
 * Toy models of superposition, end to end and offline (SAELens's toy-model runner as an Rx
 * pipeline, built by `toyModelRunner` from a runner config): train a ReLU toy model that squeezes 10 sparse features into 5 dims, train an SAE
 * on its hidden activations, and check that the SAE's decoder rows find the true feature
 * directions.
 *
 *   toyActivations → mixingBuffer → batch → trainSae → sinks(consoleSink, jsonlSink)
 *
 * Writes `./runs/toy-<timestamp>/`: records.jsonl, the SAE folder `sae/final_<tokens>/` and
 * report.html (the run's training report).
 * `npm run example -- toy` (about 30 s; it used 18 CPU-seconds here); `-- toy --quick` for a short smoke run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeRunnerConfig, selectBackend, toyModelRunner, type FeatureRecovery } from '../src/index.js';

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

/**
 * The runner config (SAELens snake_case, as examples/configs/toy.yaml): SAELens's toy runner
 * trains the toy model 10 000 steps of 1024 with Adam lr 1e-3; the SAE gets 2× expansion over
 * the true features and a strong L1 for these unit-scale activations.
 */
export function toyConfig(quick: boolean): Record<string, unknown> {
  const trainBatchSize = 1024;
  return {
    n_features: 10,
    n_hidden: 5,
    feature_probability: 0.05,
    model_training_steps: quick ? 1500 : 10_000,
    d_sae: 20,
    l1_coefficient: 0.1,
    lr: quick ? 1e-2 : 3e-3,
    adam_beta1: 0,
    train_batch_size: trainBatchSize,
    total_training_tokens: (quick ? 600 : 1500) * trainBatchSize,
    feature_sampling_window: 100,
    dead_feature_window: 100,
    log_to_wandb: false,
    seed: 42,
  };
}

export async function runToy(opts: ToyRunOptions = {}): Promise<ToyRunResult> {
  const quick = opts.quick ?? false;
  const verbose = opts.verbose ?? true;
  const log = (s: string) => verbose && process.stderr.write(s + '\n');
  // one short line, as the CLI prints
  log(`sae-rx: tfjs backend '${(await selectBackend({ log: () => {} })).name}'`);
  const cfg = decodeRunnerConfig(toyConfig(quick), 'toy_model');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = path.resolve(opts.runsDir ?? 'runs', `toy-${stamp}`);
  fs.mkdirSync(runDir, { recursive: true });
  const runner = toyModelRunner(cfg, {
    runDir,
    console: verbose ? { intervalMs: 5000 } : false,
    log,
    logEvery: 10,
    onToyLog: (step, loss) => log(`  toy step ${step}: loss ${loss.toExponential(3)}`),
  });
  const s = await runner.run();
  const sae = s.saes[0];
  if (!sae?.path || !s.recovery) throw new Error(`toy example: the final SAE was not written${s.warnings.length ? ` (${s.warnings.join('; ')})` : ''}`);
  const step = sae.last;
  const recovery = s.recovery;
  const result: ToyRunResult = {
    runDir,
    saeDir: sae.path,
    recovery,
    tokensPerSecond: s.tokensPerSecond,
    last: { l0: step?.l0 ?? NaN, mse: step?.losses.mse ?? NaN, explainedVariance: step?.explainedVarianceMean ?? NaN },
  };
  if (verbose) {
    process.stdout.write(
      [
        `SAE folder: ${sae.path}`,
        `report: ${s.reportPath}`,
        `final L0 ${result.last.l0.toFixed(3)}, MSE ${result.last.mse.toExponential(3)}, explained variance ${result.last.explainedVariance.toFixed(4)}`,
        `${Math.round(result.tokensPerSecond)} tokens/s trained (first to last step)`,
        `feature recovery: ${recovery.recovered}/${cfg.n_features} true features have a decoder row with cosine > ${recovery.threshold}; mean max-cosine ${recovery.meanMaxCosine.toFixed(4)}`,
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
