/**
 * SAELens's toy-model runner as an Rx pipeline built from a decoded `SAEToyModelRunnerConfig`:
 * train Anthropic's ReLU toy model of superposition, then an SAE on its hidden activations,
 * with the same training tail as the language-model runner:
 *
 *   toyActivations → mixingBuffer → batch → trainSae → sinks
 *
 * and report how well the SAE's decoder rows recover the true feature directions.
 */
import * as path from 'node:path';
import { encodeRunnerConfig } from '../config/runnerConfig.js';
import { toRunnerFields, toSaeConfig, toTrainerConfig } from './configMapping.js';
import type { ToyModelRunnerConfig } from '../config/toyModelRunnerConfig.js';
import { FileFormatError } from '../errors.js';
import { checkTrainingMemory } from './memoryEstimate.js';
import { loadSae } from '../sae/saeFolder.js';
import { toyActivations } from '../sources/toyActivations.js';
import { type FeatureRecovery, type ToyModel, toyFeatureRecovery, toyModel, trainToyModel } from '../sources/toyModel.js';
import { type ResumePoint, type RunOptions, type RunSummary, type Runner, preparedStream, resumableStream, runWithSinks, trainingTail } from './trainingRun.js';

export interface ToyModelRunnerOptions extends RunOptions {
  /** Rows kept by the mixing buffer, in train batches (default 8; SAELens's toy runner does not mix). */
  readonly batchesInBuffer?: number;
  /** Decoder-row cosine that counts a true feature as recovered (default 0.9). */
  readonly recoveryThreshold?: number;
  /** Called every `logEvery` toy-model steps with its loss. */
  readonly onToyLog?: (step: number, loss: number) => void;
}

export interface ToyRunSummary extends RunSummary {
  /** The trained toy model of the last run. */
  readonly toyModel: ToyModel;
  /** How well the final SAE's decoder rows match the toy model's feature directions. */
  readonly recovery?: FeatureRecovery;
}

export interface ToyRunner extends Runner<ToyRunSummary> {
  /** The toy model trained by the latest subscription (undefined before). */
  toyModel(): ToyModel | undefined;
}

/** The toy-model runner for a decoded config (`decodeRunnerConfig(raw, 'toy_model')`). */
export function toyModelRunner(cfg: ToyModelRunnerConfig, opts: ToyModelRunnerOptions = {}): ToyRunner {
  const runDir = path.resolve(opts.runDir ?? cfg.checkpoint_path);
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const spec = { id: 'sae', sae: { ...toSaeConfig(cfg), runnerFields: toRunnerFields(cfg) }, trainer: toTrainerConfig(cfg) };
  const totalSteps = spec.trainer.totalTrainingSteps;
  checkTrainingMemory([spec]);
  let trained: ToyModel | undefined;

  // With `resume`: the toy model is trained again from its seed (the same model), its
  // activation stream replayed up to the latest checkpoint in the run folder, and the SAE
  // continues from that checkpoint.
  const stream = (resume: ResumePoint | undefined) => preparedStream(
    async () => {
      log(`training the toy model: ${cfg.n_features} features in ${cfg.n_hidden} dims, ${cfg.model_training_steps} steps`);
      const model = trainToyModel(
        toyModel({
          nFeatures: cfg.n_features,
          nHidden: cfg.n_hidden,
          nCorrelatedPairs: cfg.n_correlated_pairs,
          nAnticorrelatedPairs: cfg.n_anticorrelated_pairs,
          featureProbability: cfg.feature_probability,
          importanceDecay: cfg.feature_importance_decay ?? 1,
          seed: cfg.seed,
        }),
        {
          steps: cfg.model_training_steps,
          batchSize: cfg.model_batch_size,
          lr: cfg.model_lr,
          logEvery: 2000,
          ...(opts.onToyLog ? { onLog: opts.onToyLog } : {}),
        },
      );
      trained = model;
      log(`  final toy loss ${model.loss?.toExponential(3)}; training the SAE (d_sae ${cfg.d_sae}, ${totalSteps} steps of ${cfg.train_batch_size})`);
      return model;
    },
    (model) =>
      toyActivations(model, { batchSize: cfg.train_batch_size, seed: cfg.seed + 1 }).pipe(
        trainingTail({
          specs: [spec],
          batchesInBuffer: opts.batchesInBuffer ?? 8,
          storeBatchRows: cfg.train_batch_size,
          trainBatchSize: cfg.train_batch_size,
          seed: cfg.seed + 2,
          normalize: 'none',
          checkpointPath: runDir,
          logEvery: opts.logEvery ?? 1,
          handleSignals: opts.handleSignals ?? true,
          ...(opts.allowNonFiniteLoss ? { allowNonFiniteLoss: true } : {}),
          ...(resume ? { resume: resume.dirs, skipTrainBatches: resume.batchesConsumed } : {}),
        }),
      ),
    () => {},
  );
  const events$ = resumableStream({ runDir, saeIds: [spec.id], resume: opts.resume ?? false, log, totalSteps: { [spec.id]: totalSteps } }, stream);

  return {
    runDir,
    events$,
    toyModel: () => trained,
    run: async (): Promise<ToyRunSummary> => {
      const config = encodeRunnerConfig(cfg);
      const summary = await runWithSinks(events$, {
        runDir,
        config,
        totalSteps,
        title: 'sae-rx toy model run',
        wandb: cfg.log_to_wandb
          ? {
              project: cfg.wandb_project,
              ...(cfg.wandb_entity !== null ? { entity: cfg.wandb_entity } : {}),
              config,
              logFrequency: cfg.wandb_log_frequency,
              ...opts.wandb,
            }
          : null,
        opts,
      });
      const model = trained!;
      const finalDir = summary.saes[0]?.path;
      if (!finalDir) return { ...summary, toyModel: model };
      // the SAE as saved (SAELens layout), compared with the true directions W[:, i]
      let sae;
      try {
        sae = await loadSae(finalDir);
      } catch (e) {
        // e.g. NaN weights of a run that was allowed to go on (--allow-nan): no recovery to measure
        if (!(e instanceof FileFormatError)) throw e;
        log(`sae-rx WARNING: no feature recovery: ${e.message}`);
        return { ...summary, toyModel: model };
      }
      try {
        return { ...summary, toyModel: model, recovery: toyFeatureRecovery(model, sae.snapshot().W_dec, opts.recoveryThreshold ?? 0.9) };
      } finally {
        sae.dispose();
      }
    },
  };
}
