import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Observable, Subscriber, defer, from, mergeMap, type OperatorFunction } from 'rxjs';
import { ConfigError, SaeRxError, ShapeError, StageError } from '../errors.js';
import { Sae } from '../sae/Sae.js';
import { writeSaeFolder } from '../sae/saeFolder.js';
import type { SaeConfig } from '../sae/SaeConfig.js';
import { SaeTrainer } from '../train/SaeTrainer.js';
import type { TrainerConfig } from '../train/TrainerConfig.js';
import type { TrainEvent } from '../stream/TrainEvent.js';
import { readCheckpointState, writeCheckpoint, type CheckpointState, type SaeFolderWriter } from '../train/checkpointWriter.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { linkUpstream } from '../stream/subscribeUpstream.js';
import { disposeAll } from '../stream/ownership.js';
import type { LiveSae } from './evaluate.js';

/** One SAE to train: its own config, its trainer's config, and an id for records and folders. */
export interface TrainSaeSpec {
  readonly sae: SaeConfig;
  readonly trainer: TrainerConfig;
  /** Default: 'sae' for a single SAE, 'sae_<i>' in a sweep. Also the folder name. */
  readonly id?: string;
}

export interface TrainSaeOptions {
  /** Emit a step record every `logEvery` steps (and always for the last step). Default 1. */
  readonly logEvery?: number;
  /**
   * SAELens `n_checkpoints`: checkpoints after the steps whose token count passes
   * k·total/n (k = 1 … n−1), plus the final SAE. Default 0 (only the final SAE).
   */
  readonly nCheckpoints?: number;
  /**
   * Folder for checkpoints (`<path>/<saeId>/<tokens>`) and the final SAE
   * (`<path>/<saeId>/final_<tokens>`). Without it nothing is written (and SIGINT only stops).
   */
  readonly checkpointPath?: string;
  /** Batches whose rows initialise b_dec (geometric median / mean), as SAELens's store. Default 1. */
  readonly bDecInitBatches?: number;
  /** On SIGINT/SIGTERM: write a checkpoint of every SAE, error the stream, then exit. Default true. */
  readonly handleSignals?: boolean;
  /** After the interrupt checkpoint, re-raise the signal so the process exits. Default true. */
  readonly exitOnSignal?: boolean;
  /**
   * Intermediate checkpoints waiting to be written at most (each holds a copy of the weights
   * and optimizer state); further ones are skipped with a warning. Default 4.
   */
  readonly maxPendingWrites?: number;
  /** Writes an SAE folder (default: the SAE area's `writeSaeFolder`). */
  readonly writeSaeFolder?: SaeFolderWriter;
  /**
   * Resume from checkpoints written by `trainSae` (`<checkpointPath>/<saeId>/<tokens>`): a map
   * from SAE id to checkpoint folder (a string for a single SAE). Weights, optimizer, schedules,
   * dead-feature counters and token counts continue where they were; b_dec is not
   * re-initialised. The stream must continue where that run's stream was (the checkpoint's
   * `training_state.json` records `data.batchesConsumed`), and `normalizeActivations` should be
   * given the recorded factor.
   */
  readonly resume?: string | Readonly<Record<string, string>>;
  /** Where loud warnings go besides the warning records (default: stderr). */
  readonly warn?: (message: string) => void;
  /**
   * Filled with the live SAEs while a subscription trains (`handle.saeOf(id)`), e.g. for
   * `evaluate`'s evals at SAELens's cadence. One handle per subscription.
   */
  readonly handle?: TrainSaeHandle;
}

/**
 * The SAEs a `trainSae` subscription is training, by id, for code that runs synchronously
 * inside the stream (an operator right after `trainSae`, reacting to a `step` record, sees the
 * weights of that step). An SAE is there from the subscription's start until it finishes (its
 * final folder is queued) or the stream ends; do not keep it or dispose of it. The inputs it
 * trains on are scaled by `normScalingFactor` (normalizeActivations) when there is one.
 */
export class TrainSaeHandle {
  private source: ((saeId: string) => LiveSae | undefined) | undefined;
  /** The live SAE of `saeId`, or undefined (unknown id, finished, or nothing training). */
  readonly saeOf = (saeId: string): LiveSae | undefined => this.source?.(saeId);
  /** @internal trainSae attaches its slots here; returns the detach function. */
  attach(source: (saeId: string) => LiveSae | undefined): () => void {
    if (this.source) throw new ConfigError('trainSae(): a TrainSaeHandle serves one subscription at a time (make one per subscription)');
    this.source = source;
    return () => {
      if (this.source === source) this.source = undefined;
    };
  }
}

interface Slot {
  readonly id: string;
  readonly spec: TrainSaeSpec;
  sae: Sae | null;
  trainer: SaeTrainer | null;
  readonly totalSteps: number;
  readonly thresholds: number[];
  hookIndex: number | undefined;
  tokens: number;
  steps: number;
  /** Continues a checkpoint (b_dec is not initialised again). */
  resumed: boolean;
  finished: boolean;
  finalPath?: string;
}

/**
 * Trains one SAE, or a sweep of SAEs on the same stream (DESIGN.md §3.3): every batch is used
 * once by every SAE, in order, and the source is read once. Emits `TrainEvent` records: `step`
 * (every `logEvery` steps), `checkpoint` (when a checkpoint folder is on disk), `warning`
 * (loud: a skipped or failed write, a stream that ended early), and one `done` per SAE, then
 * completes once each SAE has run its `totalTrainingSteps + finetuningSteps` steps (the
 * upstream subscription is dropped at that point).
 *
 * b_dec is initialised from the first `bDecInitBatches` batches, which are then trained on
 * (SAELens takes them from its store buffer). A 3-D batch `[n, hooks, dIn]` feeds each SAE the
 * slice of its `hookPoint`. The batches' `normScalingFactor` is folded into saved SAEs.
 *
 * Owns the SAEs, trainers and the batches it receives (disposed after each step); they are
 * freed on complete, error and unsubscribe. Checkpoints are snapshots (plain arrays) written
 * asynchronously, one at a time, so writing never holds tensors and never blocks a step.
 * Each batch is handled synchronously in `next`, so pull sources stay paced.
 */
export function trainSae(
  specs: TrainSaeSpec | readonly TrainSaeSpec[],
  opts: TrainSaeOptions = {},
): OperatorFunction<ActivationBatch, TrainEvent> {
  const list: readonly TrainSaeSpec[] = Array.isArray(specs) ? specs : [specs as TrainSaeSpec];
  const logEvery = opts.logEvery ?? 1;
  const nCheckpoints = opts.nCheckpoints ?? 0;
  const bDecInitBatches = opts.bDecInitBatches ?? 1;
  const maxPending = opts.maxPendingWrites ?? 4;
  if (list.length === 0) throw new ConfigError('trainSae(): no SAE configs given');
  if (!Number.isInteger(logEvery) || logEvery < 1) throw new ConfigError(`trainSae(): logEvery must be a positive integer, got ${logEvery}`);
  if (!Number.isInteger(nCheckpoints) || nCheckpoints < 0) throw new ConfigError(`trainSae(): nCheckpoints must be an integer ≥ 0, got ${nCheckpoints}`);
  if (!Number.isInteger(bDecInitBatches) || bDecInitBatches < 1)
    throw new ConfigError(`trainSae(): bDecInitBatches must be a positive integer, got ${bDecInitBatches}`);
  if (!Number.isInteger(maxPending) || maxPending < 1) throw new ConfigError(`trainSae(): maxPendingWrites must be a positive integer, got ${maxPending}`);
  const ids = list.map((s, i) => s.id ?? (list.length === 1 ? 'sae' : `sae_${i}`));
  if (new Set(ids).size !== ids.length) throw new ConfigError(`trainSae(): SAE ids must be unique, got ${ids.join(', ')}`);
  list.forEach((s, i) => {
    const total = s.trainer.totalTrainingSteps + s.trainer.finetuningSteps;
    if (!(Number.isInteger(total) && total >= 1)) throw new ConfigError(`trainSae(): SAE ${ids[i]} has ${total} steps to train; expected ≥ 1`);
  });
  const warnOut = opts.warn ?? ((m: string) => process.stderr.write(`sae-rx WARNING: ${m}\n`));

  const resumeDirs: Record<string, string> =
    typeof opts.resume === 'string'
      ? list.length === 1
        ? { [ids[0]!]: opts.resume }
        : (() => { throw new ConfigError(`trainSae(): resume must map SAE ids to checkpoint folders for a sweep of ${list.length}`); })()
      : { ...(opts.resume ?? {}) };
  for (const id of Object.keys(resumeDirs))
    if (!ids.includes(id)) throw new ConfigError(`trainSae(): resume names SAE '${id}', the SAEs are ${ids.join(', ')}`);

  const train = (source: Observable<ActivationBatch>, resumed: ReadonlyMap<string, CheckpointState>) =>
    new Observable<TrainEvent>((subscriber) => {
      const slots: Slot[] = [];
      let upstream: Subscriber<ActivationBatch> | undefined;
      let initQueue: ActivationBatch[] = [];
      let initialised = false;
      let finishing = false;
      let normScalingFactor: number | undefined;
      let writeChain: Promise<void> = Promise.resolve();
      let pendingWrites = 0;
      const writer: SaeFolderWriter = opts.writeSaeFolder ?? writeSaeFolder;

      const emit = (r: TrainEvent) => {
        if (!subscriber.closed) subscriber.next(r);
      };
      const warn = (slot: Slot | undefined, message: string) => {
        warnOut(slot ? `[${slot.id}] ${message}` : message);
        emit({ type: 'warning', saeId: slot?.id ?? '*', step: slot?.steps ?? 0, tokens: slot?.tokens ?? 0, message });
      };
      const freeSlot = (s: Slot) => {
        s.trainer?.dispose();
        s.sae?.dispose();
        s.trainer = null;
        s.sae = null;
      };
      const freeAll = () => {
        disposeAll(initQueue);
        initQueue = [];
        slots.forEach(freeSlot);
      };

      /**
       * Queues a checkpoint of `s` as it is now (snapshot taken synchronously). Intermediate
       * checkpoints are skipped, loudly, when `maxPendingWrites` are already waiting.
       */
      const queueCheckpoint = (s: Slot, name: string, kind: 'checkpoint' | 'final' | 'interrupt') => {
        if (!opts.checkpointPath || !s.sae || !s.trainer) return;
        const step = s.trainer.stepCount;
        const tokens = s.tokens;
        if (kind === 'checkpoint' && pendingWrites >= maxPending) {
          warn(s, `checkpoint at step ${step} skipped: ${pendingWrites} checkpoint writes are still pending (slow disk?)`);
          return;
        }
        const dir = path.join(opts.checkpointPath, s.id, name);
        const content = {
          saeId: s.id,
          snapshot: s.sae.snapshot(),
          trainerState: s.trainer.state(),
          tokens,
          sparsity: s.trainer.featureSparsity(),
          normScalingFactor,
          data: { batchesConsumed: step },
        };
        pendingWrites++;
        writeChain = writeChain.then(async () => {
          try {
            await writeCheckpoint(dir, content, writer);
            if (kind === 'final') s.finalPath = dir;
            emit({ type: 'checkpoint', saeId: s.id, step, tokens, path: dir });
          } catch (e) {
            warn(s, `writing ${kind === 'final' ? 'the final SAE' : 'a checkpoint'} to ${dir} FAILED: ${e instanceof Error ? e.message : String(e)}`);
          } finally {
            pendingWrites--;
          }
        });
      };

      const finishSlot = (s: Slot) => {
        if (s.finished) return;
        s.finished = true;
        queueCheckpoint(s, `final_${s.tokens}`, 'final');
        freeSlot(s);
      };

      /** All SAEs done (or the stream ended): stop reading, wait for the writes, say done. */
      const finish = () => {
        if (finishing) return;
        finishing = true;
        upstream?.unsubscribe();
        slots.forEach(finishSlot);
        void writeChain.then(() => {
          for (const s of slots) {
            emit({ type: 'done', saeId: s.id, step: s.steps, tokens: s.tokens, ...(s.finalPath ? { path: s.finalPath } : {}) });
          }
          if (!subscriber.closed) subscriber.complete();
        });
      };

      /** The 2-D input of each active SAE's hook (fills `out`; on a throw, the caller releases what is there). */
      const hookSlices = (b: ActivationBatch, out: Map<number | undefined, tf.Tensor2D>): void => {
        if (b.acts.rank !== 2 && b.acts.rank !== 3) throw new ShapeError(`trainSae(): activations must be [n, dIn] or [n, hooks, dIn], got [${b.acts.shape}]`);
        for (const s of slots) {
          if (s.finished) continue;
          if (s.hookIndex === undefined && b.acts.rank === 3) {
            const i = b.hooks.indexOf(s.spec.sae.hookPoint);
            if (i < 0) throw new ShapeError(`trainSae(): SAE ${s.id} reads hook '${s.spec.sae.hookPoint}', the batch has ${b.hooks.join(', ')}`);
            s.hookIndex = i;
          }
          const key = b.acts.rank === 3 ? s.hookIndex : undefined;
          let x = out.get(key);
          if (!x) {
            x = key === undefined
              ? (b.acts as tf.Tensor2D)
              : tf.tidy(() => tf.squeeze(tf.slice(b.acts, [0, key, 0], [-1, 1, -1]), [1]) as tf.Tensor2D);
            out.set(key, x);
          }
          if (x.shape[1] !== s.spec.sae.dIn) throw new ShapeError(`trainSae(): SAE ${s.id} has d_in ${s.spec.sae.dIn}, the batch has ${x.shape[1]}`);
        }
      };
      const releaseSlices = (b: ActivationBatch, xs: Map<number | undefined, tf.Tensor2D>) => {
        for (const x of xs.values()) if (x !== b.acts) x.dispose();
      };

      const trainOn = (b: ActivationBatch) => {
        if (b.normScalingFactor !== undefined) normScalingFactor = b.normScalingFactor;
        const xs = new Map<number | undefined, tf.Tensor2D>();
        try {
          hookSlices(b, xs);
          for (const s of slots) {
            if (s.finished || finishing || subscriber.closed) continue;
            const x = xs.get(b.acts.rank === 3 ? s.hookIndex : undefined)!;
            let m;
            try {
              m = s.trainer!.step(x);
            } catch (e) {
              throw new StageError(`trainSae(${s.id}) step ${s.trainer!.stepCount}`, e);
            }
            s.tokens += x.shape[0];
            s.steps = s.trainer!.stepCount;
            const last = s.trainer!.stepCount >= s.totalSteps;
            if (m.step % logEvery === 0 || last)
              emit({ type: 'step', saeId: s.id, step: m.step, tokens: s.tokens, losses: m.losses, l0: m.l0, explainedVarianceMean: m.explainedVarianceMean, explainedVarianceStd: m.explainedVarianceStd, deadFeatures: m.deadFeatures, lr: m.lr, l1Coefficient: m.l1Coefficient, phase: m.phase });
            if (s.thresholds.length > 0 && s.tokens > s.thresholds[0]!) {
              while (s.thresholds.length > 0 && s.tokens > s.thresholds[0]!) s.thresholds.shift();
              if (!last) queueCheckpoint(s, String(s.tokens), 'checkpoint');
            }
            if (last) finishSlot(s);
          }
        } finally {
          releaseSlices(b, xs);
          b.acts.dispose();
        }
        if (slots.every((s) => s.finished)) finish();
      };

      const initialise = () => {
        initialised = true;
        const queue = initQueue;
        initQueue = [];
        try {
          if (queue.length > 0) {
            const sample: ActivationBatch = { acts: queue.length === 1 ? queue[0]!.acts : tf.concat(queue.map((q) => q.acts), 0), hooks: queue[0]!.hooks };
            const xs = new Map<number | undefined, tf.Tensor2D>();
            try {
              hookSlices(sample, xs);
              for (const s of slots) if (!s.resumed && !s.finished) s.sae!.initBDec(xs.get(sample.acts.rank === 3 ? s.hookIndex : undefined)!);
            } finally {
              releaseSlices(sample, xs);
              if (queue.length > 1) sample.acts.dispose();
            }
          }
          while (queue.length > 0 && !subscriber.closed && !finishing) trainOn(queue.shift()!);
        } finally {
          disposeAll(queue);
        }
      };

      let interrupted = false;
      const onSignal = (sig: NodeJS.Signals) => {
        if (interrupted) return;
        interrupted = true;
        finishing = true;
        upstream?.unsubscribe();
        for (const s of slots) if (!s.finished) queueCheckpoint(s, String(s.tokens), 'interrupt');
        const where = opts.checkpointPath ? `checkpoints under ${opts.checkpointPath}` : 'no checkpoint (no checkpointPath)';
        warnOut(`trainSae: ${sig} received; writing ${where}`);
        freeAll();
        void writeChain.then(() => {
          removeSignalHandlers();
          if (!subscriber.closed) subscriber.error(new SaeRxError(`trainSae: interrupted by ${sig}; ${where}`));
          if (opts.exitOnSignal ?? true) process.kill(process.pid, sig);
        });
      };
      const handleSignals = opts.handleSignals ?? true;
      const removeSignalHandlers = () => {
        if (!handleSignals) return;
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      };

      let detach: (() => void) | undefined;
      try {
        // first, so that a handle already in use fails before anything is allocated
        detach = opts.handle?.attach((id) => {
          const s = slots.find((x) => x.id === id);
          return s?.sae && !s.finished ? { sae: s.sae, ...(normScalingFactor !== undefined ? { normScalingFactor } : {}) } : undefined;
        });
        list.forEach((spec, i) => {
          const totalSteps = spec.trainer.totalTrainingSteps + spec.trainer.finetuningSteps;
          // SAELens: range(0, total_tokens, total_tokens // n_checkpoints)[1:]
          const totalTokens = totalSteps * spec.trainer.trainBatchSize;
          const thresholds: number[] = [];
          if (nCheckpoints > 0) {
            const every = Math.floor(totalTokens / nCheckpoints);
            if (every > 0) for (let t = every; t < totalTokens; t += every) thresholds.push(t);
          }
          const slot: Slot = { id: ids[i]!, spec, sae: null, trainer: null, totalSteps, thresholds, hookIndex: undefined, tokens: 0, steps: 0, resumed: false, finished: false };
          slots.push(slot);
          const ck = resumed.get(slot.id);
          if (ck) {
            slot.sae = Sae.fromWeights(spec.sae, ck.weights);
            slot.trainer = SaeTrainer.restore(slot.sae, spec.trainer, ck.trainerState);
            slot.tokens = ck.tokens;
            slot.steps = ck.trainerState.step;
            slot.resumed = true;
            while (thresholds.length > 0 && slot.tokens > thresholds[0]!) thresholds.shift();
            if (ck.normScalingFactor !== undefined) normScalingFactor = ck.normScalingFactor;
          } else {
            slot.sae = Sae.create(spec.sae, { seed: spec.sae.seed });
            slot.trainer = new SaeTrainer(slot.sae, spec.trainer);
          }
        });
        // b_dec comes from the checkpoint when every SAE resumes.
        if (resumed.size === slots.length) initialised = true;
        for (const s of slots) if (s.trainer!.stepCount >= s.totalSteps) finishSlot(s);
      } catch (e) {
        detach?.();
        freeAll();
        subscriber.error(e instanceof SaeRxError ? e : new StageError('trainSae', e));
        return;
      }
      if (handleSignals) {
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      }

      const teardown = () => {
        detach?.();
        removeSignalHandlers();
        freeAll();
      };
      if (slots.every((s) => s.finished)) {
        subscriber.add(teardown);
        finish();
        return;
      }
      // Linked before subscribing (and kept in `upstream` before the source runs), so that finishing, or an unsubscribe from
      // downstream, stops even a synchronous source mid-emission.
      upstream = linkUpstream(subscriber, {
        next: (b: ActivationBatch) => {
          if (finishing || subscriber.closed) {
            b.acts.dispose();
            return;
          }
          if (!initialised) {
            initQueue.push(b);
            if (initQueue.length >= bDecInitBatches) initialise();
            return;
          }
          trainOn(b);
        },
        complete: () => {
          if (!initialised) initialise();
          for (const s of slots)
            if (!s.finished) warn(s, `the activation stream ended after ${s.trainer?.stepCount ?? 0} of ${s.totalSteps} steps; saving what was trained`);
          finish();
        },
      }, teardown);
      source.subscribe(upstream);
    });

  if (Object.keys(resumeDirs).length === 0) return (source) => train(source, new Map());
  // Reading the checkpoints is async; the stream is subscribed only once they are in memory.
  return (source) =>
    defer(() =>
      from(
        Promise.all(Object.entries(resumeDirs).map(async ([id, dir]) => [id, await readCheckpointState(dir)] as const)).then((e) => new Map(e)),
      ),
    ).pipe(mergeMap((resumed) => train(source, resumed)));
}
