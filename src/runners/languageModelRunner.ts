/**
 * SAELens's `language_model_sae_runner` as one Rx pipeline built from a decoded
 * `LanguageModelSAERunnerConfig` (a sweep trains every SAE on one stream):
 *
 *   documents (hfDataset | localDocuments) → packContext → modelActivations
 *     → mixingBuffer → normalizeActivations → batch → trainSae(all SAEs) → sinks
 *
 * or, with `use_cached_activations`, cachedActivations → (the same tail from mixingBuffer on).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Observable, lastValueFrom, skip, take, toArray } from 'rxjs';
import { runEvals } from '../analysis/evals.js';
import { loadSae } from '../sae/saeFolder.js';
import { encodeRunnerConfig } from '../config/runnerConfig.js';
import type { LanguageModelSaeRunnerConfig } from '../config/languageModelRunnerConfig.js';
import type { SingleLanguageModelSaeRunnerConfig } from '../config/sweep.js';
import { toRunnerFields, toSaeConfig, toTrainerConfig } from './configMapping.js';
import { ConfigError, HubError } from '../errors.js';
import { writeCachedRef } from '../hub/cache.js';
import { type HubConfig, toHubConfig } from '../hub/config.js';
import { downloadHubFile, resolveHubRevision } from '../hub/download.js';
import { type FromFolderOptions, HookedTransformer } from '../model/HookedTransformer.js';
import { shardNames } from '../model/loadModel.js';
import { type TextTokenizer, loadTokenizer } from '../model/tokenizer.js';
import { modelActivations } from '../operators/modelActivations.js';
import { checkTrainingMemory } from './memoryEstimate.js';
import { isLocalPath, runnerSingles } from './runnerSingles.js';
import { type PackContextOptions, packContext } from '../operators/packContext.js';
import type { TokenBatch } from '../stream/TokenBatch.js';
import type { TrainSaeSpec } from '../operators/trainSae.js';
import type { Document } from '../stream/Document.js';
import { hfDataset } from '../sources/hfDataset.js';
import type { DocumentCursor } from '../sources/documentCursor.js';
import { localDocuments } from '../sources/localDocuments.js';
import { cachedActivations } from '../sources/cachedActivations.js';
import { wandbOptionsFromRunnerConfig } from '../sinks/wandb.js';
import type { EvalRecord, TrainEvent } from '../stream/TrainEvent.js';
import {
  type ResumePoint, type RunOptions, type RunSummary, type Runner, type TrainingTailOptions, preparedStream, resumableStream, runWithSinks, trainingTail,
} from './trainingRun.js';

export interface LanguageModelRunnerOptions extends RunOptions {
  /** Hub settings (default: from the environment: HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE, cache). */
  readonly hub?: Partial<HubConfig>;
  /** Documents to train on instead of `dataset_path` (tests, custom sources). */
  readonly documents?: Observable<Document>;
  /**
   * Store batches of held-out token sequences for the evals during training, run at SAELens's
   * cadence (after step s when (s + 1) % (wandb_log_frequency × eval_every_n_wandb_logs) == 0)
   * on the live SAEs. Default 1 (SAELens's `run_evals` takes one store batch); 0: no evals
   * during training. Only when a step of the run is at the cadence are the batches read: they
   * are the first documents of the dataset, which training then skips (SAELens too takes its
   * eval batches out of the data stream).
   */
  readonly evalBatches?: number;
  /**
   * Train only these SAEs of the sweep (ids as `runnerSingles` names them), on the same stream:
   * one group of a sweep split into jobs (cluster/). Each SAE comes out as in the whole sweep.
   */
  readonly saeIds?: readonly string[];
}

/** A dataset_path that can only mean a local file or folder (a path, or a data file's name). */
function looksLocal(p: string): boolean {
  return /^(\.|\/|~|[A-Za-z]:\\)/.test(p) || /\.(txt|jsonl?|parquet|arrow|csv)$/i.test(p) || p.split('/').length > 2;
}

/** The singles named by `ids` (all when undefined); an unknown id is a ConfigError naming it. */
export function selectSingles(singles: SingleLanguageModelSaeRunnerConfig[], ids: readonly string[] | undefined): SingleLanguageModelSaeRunnerConfig[] {
  if (ids === undefined) return singles;
  const known = new Set(singles.map((s) => s.sae_id));
  const bad = ids.find((id) => !known.has(id));
  if (bad !== undefined) throw new ConfigError(`saeIds: ${bad} is not an SAE of this config's sweep (${[...known].join(', ')})`);
  if (ids.length === 0) throw new ConfigError('saeIds: empty; name at least one SAE of the sweep');
  return singles.filter((s) => ids.includes(s.sae_id));
}

/** A local model folder (has config.json), else the folder of a hub repo's files in the hub cache. */
export async function resolveModelFolder(modelName: string, hub?: Partial<HubConfig>): Promise<string> {
  if (fs.existsSync(path.join(modelName, 'config.json'))) return modelName;
  if (isLocalPath(modelName))
    throw new ConfigError(`model_name: ${modelName} is a local path but has no config.json`);
  if (!modelName.includes('/'))
    throw new ConfigError(
      `model_name: "${modelName}" is neither a local model folder nor a hub repo id "owner/name" (TransformerLens short names are not supported; give the HF repo, e.g. "openai-community/gpt2")`,
    );
  const cfg = toHubConfig(hub);
  const repo = modelName;
  // Pin one commit so all files come from the same snapshot folder.
  const commit = await resolveHubRevision({ repo }, cfg);
  if (!cfg.offline) await writeCachedRef(cfg, 'model', repo, 'main', commit);
  const get = (p: string) => downloadHubFile({ repo, path: p, revision: commit }, cfg);
  const optional = async (p: string) => {
    try {
      return await get(p);
    } catch (e) {
      if (e instanceof HubError) return undefined;
      throw e;
    }
  };
  const configFile = await get('config.json');
  if (!(await optional('tokenizer.json')) && !(await optional('tokenizer.bin')))
    throw new HubError(`model_name: hub repo "${repo}" has no tokenizer.json (or tokenizer.bin)`);
  await optional('tokenizer_config.json');
  if (!(await optional('model.safetensors'))) {
    const index = await optional('model.safetensors.index.json');
    if (!index) throw new HubError(`model_name: hub repo "${repo}" has no model.safetensors or model.safetensors.index.json`);
    for (const shard of shardNames(index)) await get(shard);
  }
  return path.dirname(configFile);
}

/**
 * The model of a config's `model_name` as the runners load it: its folder (resolveModelFolder)
 * and the HookedTransformer there, named by the folder or repo name. The caller disposes it.
 */
export async function loadRunnerModel(modelName: string, hub?: Partial<HubConfig>, opts: Pick<FromFolderOptions, 'unembed'> = {}): Promise<{ dir: string; model: HookedTransformer }> {
  const dir = await resolveModelFolder(modelName, hub);
  return { dir, model: await HookedTransformer.fromFolder(dir, { modelName: path.basename(modelName), ...opts }) };
}

/** packContext's options for a runner config: SAELens's context, BOS and store batch, the model's n_ctx. */
export function packOptionsFor(
  cfg: Pick<LanguageModelSaeRunnerConfig, 'context_size' | 'prepend_bos' | 'store_batch_size'>,
  model: HookedTransformer,
  tokenizer: TextTokenizer,
): PackContextOptions {
  return {
    contextSize: cfg.context_size,
    prependBos: cfg.prepend_bos,
    tokenizer,
    ...(tokenizer.bosTokenId !== undefined ? { bosToken: tokenizer.bosTokenId } : {}),
    storeBatchSize: cfg.store_batch_size,
    maxDocumentTokens: model.cfg.nCtx,
  };
}

/**
 * The documents of `dataset_path`: a local file/folder, else a hub dataset repo; `from` (the
 * cursor of a document they gave) resumes just after that document.
 */
export function datasetDocuments(cfg: Pick<LanguageModelSaeRunnerConfig, 'dataset_path' | 'streaming'>, hub?: Partial<HubConfig>, from?: DocumentCursor): Observable<Document> {
  const p = cfg.dataset_path;
  if (fs.existsSync(p)) return localDocuments(p, from ? { from } : {});
  const h = toHubConfig(hub);
  // streaming reads row groups over HTTP without caching; offline, the cache is all there is
  return hfDataset({ path: p, download: !cfg.streaming || h.offline, hub: h, ...(from ? { from } : {}) });
}

/**
 * The first `batches` store batches of token sequences packed from the run's documents after
 * the first `skipDocuments` (`onDocument`: packContext's count of the documents packed).
 */
async function storeBatches(
  cfg: LanguageModelSaeRunnerConfig,
  opts: Pick<LanguageModelRunnerOptions, 'documents' | 'hub'>,
  model: HookedTransformer,
  tokenizer: TextTokenizer,
  o: { batches: number; skipDocuments?: number; onDocument?: (n: number) => void },
): Promise<TokenBatch[]> {
  return lastValueFrom(
    (opts.documents ?? datasetDocuments(cfg, opts.hub)).pipe(
      skip(o.skipDocuments ?? 0),
      packContext({ ...packOptionsFor(cfg, model, tokenizer), ...(o.onDocument ? { onDocument: o.onDocument } : {}) }),
      take(o.batches),
      toArray(),
    ),
  );
}

/**
 * SAELens's `run_evals` on each final SAE of a finished run: `batches` store batches of token
 * sequences taken from the documents after the first `skipDocuments` (the data training read).
 * Returns one eval record per SAE; the model is loaded for it and freed.
 */
export async function finalEvals(
  cfg: LanguageModelSaeRunnerConfig,
  opts: LanguageModelRunnerOptions,
  summary: RunSummary,
  o: { batches: number; skipDocuments: number },
): Promise<EvalRecord[]> {
  const saes = summary.saes.filter((s) => s.path !== undefined);
  if (saes.length === 0) return [];
  const { dir, model } = await loadRunnerModel(cfg.model_name, opts.hub);
  try {
    const tokens = await storeBatches(cfg, opts, model, loadTokenizer(dir), o);
    if (tokens.length === 0) return [];
    const out: EvalRecord[] = [];
    for (const s of saes) {
      const sae = await loadSae(s.path!);
      try {
        const r = runEvals(model, sae, tokens);
        out.push({ type: 'eval', saeId: s.saeId, step: Math.max(0, s.steps - 1), tokens: s.tokens, metrics: r.metrics, histograms: r.histograms });
      } finally {
        sae.dispose();
      }
    }
    return out;
  } finally {
    model.dispose();
  }
}

/** The hook points a config's SAEs read, in first-seen order. */
export function runnerHooks(singles: readonly SingleLanguageModelSaeRunnerConfig[]): string[] {
  return [...new Set(singles.map((s) => s.hook_point))];
}

/**
 * The target hook a config's transcoders reconstruct (SAELens `hook_name_out`), undefined for
 * SAEs. The SAEs of one run share one stream, so they share both hooks: a run whose transcoders
 * read different hooks is a ConfigError naming them.
 */
export function runnerTargetHook(singles: readonly SingleLanguageModelSaeRunnerConfig[]): string | undefined {
  const outs = [...new Set(singles.map((s) => s.hook_name_out))];
  if (outs.length === 1) return outs[0];
  throw new ConfigError(`hook_name_out: the SAEs of one run share one activation stream, so all must reconstruct the same hook; got ${outs.map((o) => JSON.stringify(o ?? null)).join(', ')}`);
}

/** The trainSae specs of a (possibly swept) config: one per SAE, id = SAELens's SAE name. */
export function runnerSpecs(singles: readonly SingleLanguageModelSaeRunnerConfig[]): TrainSaeSpec[] {
  return singles.map((s) => ({ id: s.sae_id, sae: { ...toSaeConfig(s), runnerFields: toRunnerFields(s) }, trainer: toTrainerConfig(s) }));
}

function checkAgainstModel(cfg: LanguageModelSaeRunnerConfig, model: HookedTransformer, hooks: readonly string[], targetHook?: string): void {
  if (cfg.context_size > model.cfg.nCtx)
    throw new ConfigError(`context_size ${cfg.context_size} exceeds the model's context length n_ctx ${model.cfg.nCtx} (${cfg.model_name})`);
  const shapes = model.hookShapes(1, 1);
  for (const h of hooks) {
    const s = shapes[h];
    if (!s) throw new ConfigError(`hook_point: '${h}' is not a hook point of ${cfg.model_name}`);
    const width = cfg.hook_point_head_index !== null && s.length === 4 ? s[3]! : s.slice(2).reduce((a, b) => a * b, 1);
    if (width !== cfg.d_in) throw new ConfigError(`d_in ${cfg.d_in} does not match the width ${width} of '${h}' in ${cfg.model_name}`);
  }
  if (targetHook !== undefined) {
    const s = shapes[targetHook];
    if (!s) throw new ConfigError(`hook_name_out: '${targetHook}' is not a hook point of ${cfg.model_name}`);
    const head = cfg.hook_head_index_out ?? null;
    const width = head !== null && s.length === 4 ? s[3]! : s.slice(2).reduce((a, b) => a * b, 1);
    if (width !== cfg.d_out) throw new ConfigError(`d_out ${cfg.d_out} does not match the width ${width} of '${targetHook}' in ${cfg.model_name}`);
  }
}

/**
 * The language-model SAE runner for a decoded config. `events$` is cold: each subscription
 * loads the model (local folder or hub repo, through the hub cache), streams the dataset and
 * trains every SAE of the sweep on one activation stream (one forward pass per store batch,
 * only when the trainer needs it), freeing the model at the end. `run()` adds the sinks:
 * console progress, `records.jsonl` and `config.json` in the run folder (the config's
 * checkpoint_path, which also holds the SAE folders `<sae_id>/final_<tokens>`), W&B when
 * `log_to_wandb`, and `report.html` at the end. With `use_cached_activations` the
 * activations come from `cached_activations_path` (a cache written by the cache runner, checked
 * against the config's hooks, d_in and context size) through the same training tail; the model
 * is then loaded only for evals (during training at SAELens's cadence, and the final ones). With `resume`, training continues from the latest checkpoint every SAE has in
 * the run folder (SAELens's `get_resume_checkpoint_path`): the stream is replayed up to it
 * (every stage is seeded) and the final SAE equals that of an uninterrupted run.
 */
export function languageModelRunner(cfg: LanguageModelSaeRunnerConfig, opts: LanguageModelRunnerOptions = {}): Runner {
  if (cfg.model_class_name !== 'HookedTransformer') throw new ConfigError(`model_class_name: ${cfg.model_class_name} is not supported (HookedTransformer only)`);
  if (cfg.from_pretrained_path !== null)
    throw new ConfigError(`from_pretrained_path: continuing from a pretrained SAE (${cfg.from_pretrained_path}) is not supported; use resume with a checkpoint of this runner`);
  const singles = selectSingles(runnerSingles(cfg), opts.saeIds);
  const specs = runnerSpecs(singles);
  checkTrainingMemory(specs);
  if (!opts.documents && !cfg.use_cached_activations && looksLocal(cfg.dataset_path) && !fs.existsSync(cfg.dataset_path))
    throw new ConfigError(`dataset_path: ${cfg.dataset_path}: no such file or folder (a local path; a hub dataset is named "owner/name")`);
  const hooks = runnerHooks(singles);
  const targetHook = runnerTargetHook(singles);
  const runDir = path.resolve(opts.runDir ?? cfg.checkpoint_path);
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  if (Object.keys(cfg.model_kwargs).length > 0) log(`sae-rx WARNING: model_kwargs ${JSON.stringify(Object.keys(cfg.model_kwargs))} are ignored (no TransformerLens keyword arguments here)`);
  const totalSteps = Math.max(...specs.map((s) => s.trainer.totalTrainingSteps + s.trainer.finetuningSteps));
  const evalBatches = opts.evalBatches ?? 1;
  if (!(Number.isInteger(evalBatches) && evalBatches >= 0)) throw new ConfigError(`evalBatches must be an integer ≥ 0, got ${evalBatches}`);
  const cadence = cfg.wandb_log_frequency * cfg.eval_every_n_wandb_logs;
  // evals during training only when some step is at the cadence
  const cadenceEvals = evalBatches > 0 && totalSteps >= cadence;
  const tail = (resume: ResumePoint | undefined, evals?: TrainingTailOptions['evals']) =>
    trainingTail({
      specs,
      batchesInBuffer: cfg.n_batches_in_buffer,
      storeBatchRows: cfg.store_batch_size * cfg.context_size,
      trainBatchSize: cfg.train_batch_size,
      seed: cfg.seed,
      normalize: cfg.normalize_activations === true || cfg.normalize_activations === 'expected_average_only_in' ? 'expected_average_only_in' : 'none',
      checkpointPath: runDir,
      nCheckpoints: cfg.n_checkpoints,
      logEvery: opts.logEvery ?? 1,
      handleSignals: opts.handleSignals ?? true,
          ...(opts.allowNonFiniteLoss ? { allowNonFiniteLoss: true } : {}),
      ...(resume ? { resume: resume.dirs, skipTrainBatches: resume.batchesConsumed } : {}),
      ...(evals ? { evals } : {}),
      ...(opts.trainSaeHandle ? { handle: opts.trainSaeHandle } : {}),
    });
  // SAELens's resume: continue from the latest checkpoint in the run folder, else start afresh.
  // The activation stream is replayed up to the checkpoint (forward passes, no training).
  const resumable = (build: (r: ResumePoint | undefined) => Observable<TrainEvent>): Observable<TrainEvent> =>
    resumableStream(
      {
        runDir,
        saeIds: specs.map((s) => s.id!),
        resume: cfg.resume || (opts.resume ?? false),
        log,
        totalSteps: Object.fromEntries(specs.map((s) => [s.id!, s.trainer.totalTrainingSteps + s.trainer.finetuningSteps])),
      },
      build,
    );

  /** The held-out store batches of the evals during training, and the documents they took. */
  const heldOutTokens = async (model: HookedTransformer, tokenizer: TextTokenizer): Promise<{ batches: TokenBatch[]; documents: number }> => {
    let documents = 0;
    const batches = await storeBatches(cfg, opts, model, tokenizer, { batches: evalBatches, onDocument: (n) => (documents = n) });
    if (batches.length === 0) throw new ConfigError(`evals during training: the dataset ${cfg.dataset_path} gave no complete store batch to hold out`);
    return { batches, documents };
  };
  const cachedPath = cfg.use_cached_activations ? cfg.cached_activations_path : null;
  /** Documents read by the latest training stream (evals read what follows). */
  let docsRead = 0;
  /**
   * The model and tokenizer (the caller disposes the model), checked against the config's hooks.
   * `optional`: when the model cannot be had (no such folder or repo, offline), null and a
   * warning instead of the error; a model that contradicts the config is an error either way.
   */
  async function loadModel(optional: true): Promise<{ model: HookedTransformer; tokenizer: TextTokenizer } | null>;
  async function loadModel(optional?: false): Promise<{ model: HookedTransformer; tokenizer: TextTokenizer }>;
  async function loadModel(optional = false): Promise<{ model: HookedTransformer; tokenizer: TextTokenizer } | null> {
    log(`loading model ${cfg.model_name}`);
    let loaded: { dir: string; model: HookedTransformer };
    try {
      loaded = await loadRunnerModel(cfg.model_name, opts.hub);
    } catch (e) {
      if (!optional) throw e;
      log(`sae-rx WARNING: no evals: model ${cfg.model_name} could not be loaded (${e instanceof Error ? e.message : String(e)})`);
      return null;
    }
    const { dir, model } = loaded;
    try {
      checkAgainstModel(cfg, model, hooks, targetHook);
      return { model, tokenizer: loadTokenizer(dir) };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  const evalsOn = (model: HookedTransformer, heldOut: { batches: TokenBatch[]; documents: number }): TrainingTailOptions['evals'] => {
    if (heldOut.batches.length === 0) return undefined;
    log(`evals every ${cadence} steps on ${heldOut.batches.length} held-out store batch${heldOut.batches.length > 1 ? 'es' : ''} (the first ${heldOut.documents} documents, not trained on)`);
    return { model, tokens: heldOut.batches, wandbLogFrequency: cfg.wandb_log_frequency, evalEveryNWandbLogs: cfg.eval_every_n_wandb_logs };
  };
  // SAELens reads a cache shard by shard into the same mixing buffer. The model is loaded only
  // for the evals during training (SAELens loads it either way); when it cannot be had, the run
  // trains without them and says why.
  const fromCache = (p: string, resume: ResumePoint | undefined) =>
    preparedStream(
      async () => {
        if (!cadenceEvals) return { model: null, heldOut: { batches: [], documents: 0 } };
        const loaded = await loadModel(true);
        if (!loaded) return { model: null, heldOut: { batches: [], documents: 0 } };
        try {
          return { model: loaded.model, heldOut: await heldOutTokens(loaded.model, loaded.tokenizer) };
        } catch (e) {
          loaded.model.dispose();
          throw e;
        }
      },
      ({ model, heldOut }): Observable<TrainEvent> => {
        log(`training ${specs.length} SAE${specs.length > 1 ? 's' : ''} on cached activations ${p} (${totalSteps} steps of ${cfg.train_batch_size} tokens)`);
        docsRead = heldOut.documents;
        return cachedActivations({
          path: p,
          batchSize: cfg.store_batch_size * cfg.context_size,
          expect: {
            hookPoints: hooks, hookPointHeadIndex: cfg.hook_point_head_index, dIn: cfg.d_in, contextSize: cfg.context_size,
            hookPointOut: targetHook ?? null, ...(targetHook !== undefined ? { dOut: cfg.d_out! } : {}),
          },
          trainingTokens: cfg.training_tokens,
        }).pipe(tail(resume, model ? evalsOn(model, heldOut) : undefined));
      },
      ({ model }) => model?.dispose(),
    );
  // the model's activations, computed as the trainer asks for them
  const live = (resume: ResumePoint | undefined) =>
    preparedStream(
      async () => {
        const { model, tokenizer } = await loadModel();
        try {
          const heldOut = cadenceEvals ? await heldOutTokens(model, tokenizer) : { batches: [], documents: 0 };
          return { model, tokenizer, heldOut };
        } catch (e) {
          model.dispose();
          throw e;
        }
      },
      ({ model, tokenizer, heldOut }): Observable<TrainEvent> => {
        const documents = opts.documents ?? datasetDocuments(cfg, opts.hub);
        log(`training ${specs.length} ${targetHook !== undefined ? 'transcoder' : 'SAE'}${specs.length > 1 ? 's' : ''} on ${hooks.join(', ')}${targetHook !== undefined ? ` → ${targetHook}` : ''} of ${cfg.model_name} (${totalSteps} steps of ${cfg.train_batch_size} tokens)`);
        const evals = evalsOn(model, heldOut);
        return documents.pipe(
          skip(heldOut.documents),
          packContext({
            ...packOptionsFor(cfg, model, tokenizer),
            onDocument: (n) => {
              docsRead = heldOut.documents + n;
            },
          }),
          modelActivations(model, {
            hooks, headIndex: cfg.hook_point_head_index, withTokens: false,
            ...(targetHook !== undefined ? { targetHook, targetHeadIndex: cfg.hook_head_index_out ?? null } : {}),
          }),
          tail(resume, evals),
        );
      },
      ({ model }) => model.dispose(),
    );
  const events$ = resumable((r) => (cachedPath !== null ? fromCache(cachedPath, r) : live(r)));

  return {
    runDir,
    events$,
    run: (): Promise<RunSummary> =>
      runWithSinks(events$, {
        runDir,
        config: encodeRunnerConfig(cfg),
        totalSteps,
        title: `sae-rx: ${cfg.model_name} ${hooks.join(', ')}`,
        wandb: cfg.log_to_wandb ? { ...wandbOptionsFromRunnerConfig(cfg, singles), ...opts.wandb } : null,
        opts,
        after: async (summary) => {
          const n = opts.finalEvalBatches ?? 0;
          if (n <= 0) return [];
          log(`evals of the final SAE${summary.saes.length > 1 ? 's' : ''} on ${n} store batches after the training data`);
          return finalEvals(cfg, opts, summary, { batches: n, skipDocuments: docsRead });
        },
      }),
  };
}
