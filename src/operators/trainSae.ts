import { Observable, Subscriber, defer, from, mergeMap, type OperatorFunction } from 'rxjs';
import { SaeRxError, StageError } from '../errors.js';
import { platform } from '../platform/index.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { linkUpstream } from '../stream/subscribeUpstream.js';
import { disposeBatch } from '../stream/ownership.js';
import type { TrainEvent } from '../stream/TrainEvent.js';
import { stepRecordArchitecture, stepRecordLosses } from '../train/stepRecordLosses.js';
import type { CheckpointState } from '../train/checkpointWriter.js';
import { definedFactors } from '../train/normFactors.js';
import { BDecInitBuffer } from './trainSae/bDecInit.js';
import { type CheckpointKind, checkpointDir, writeSlotCheckpoint } from './trainSae/checkpoints.js';
import { type HookSlices, hookSlices, releaseSlices, sliceKey, targetOf } from './trainSae/hookSlices.js';
import { type TrainSaeOptions, type TrainSaeSpec, resolveTrainSaeOptions } from './trainSae/options.js';
import { loadResumeStates } from './trainSae/resumeLoading.js';
import { onInterrupt } from './trainSae/signals.js';
import { type Slot, createSlot, freeSlot } from './trainSae/slots.js';

export { TrainSaeHandle } from './trainSae/handle.js';
export type { TrainSaeOptions, TrainSaeSpec } from './trainSae/options.js';

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
 * freed on complete, error and unsubscribe. Checkpoints are written synchronously at their
 * step (atomically: temporary folder, fsync, rename), so one is on disk before the next step
 * whatever the pipeline (a chain that never yields to the event loop included); a failed
 * checkpoint is a loud warning, a final SAE that cannot be written errors the stream (after
 * every SAE was tried). A NaN/Inf loss errors the stream, naming the SAE and step, unless
 * `allowNonFiniteLoss`. Each batch is handled synchronously in `next`, so pull sources stay
 * paced.
 */
export function trainSae(specs: TrainSaeSpec | readonly TrainSaeSpec[], opts: TrainSaeOptions = {}): OperatorFunction<ActivationBatch, TrainEvent> {
  const o = resolveTrainSaeOptions(specs, opts);
  const { ids, logEvery } = o;

  const train = (source: Observable<ActivationBatch>, resumed: ReadonlyMap<string, CheckpointState>) =>
    new Observable<TrainEvent>((subscriber) => {
      const slots: Slot[] = [];
      let upstream: Subscriber<ActivationBatch> | undefined;
      const init = new BDecInitBuffer(o.bDecInitBatches);
      let finishing = false;
      /** The batches' norm-scaling factors (the input's, a transcoder target's), folded into saved SAEs. */
      const norm: { normScalingFactor?: number; targetNormScalingFactor?: number } = {};
      /** Final SAEs that could not be written: the stream errors once every SAE was tried. */
      const lostFinals: Array<{ slot: Slot; dir: string; error: unknown }> = [];
      /** SAEs whose NaN/Inf loss was already warned about (with allowNonFiniteLoss). */
      const warnedNonFinite = new Set<string>();

      const emit = (r: TrainEvent) => {
        if (!subscriber.closed) subscriber.next(r);
      };
      const warn = (slot: Slot | undefined, message: string) => {
        o.warn(slot ? `[${slot.id}] ${message}` : message);
        emit({ type: 'warning', saeId: slot?.id ?? '*', step: slot?.steps ?? 0, tokens: slot?.tokens ?? 0, message });
      };
      const freeAll = () => {
        init.dispose();
        slots.forEach(freeSlot);
      };

      /**
       * Writes a checkpoint of `s` now (synchronously: on disk before the next step) and says
       * so in a `checkpoint` record. A failed intermediate checkpoint is a loud warning and
       * training goes on; a failure of the others is returned for the caller to fail with.
       */
      const checkpoint = (s: Slot, kind: CheckpointKind): { dir: string; error: unknown } | undefined => {
        if (!opts.checkpointPath || !s.sae || !s.trainer) return undefined;
        const dir = checkpointDir(opts.checkpointPath, s, kind);
        try {
          writeSlotCheckpoint(dir, s, norm, opts.writeSaeFolder);
        } catch (error) {
          const what = kind === 'final' ? 'the final SAE' : kind === 'interrupt' ? 'the checkpoint asked for by the signal' : 'a checkpoint';
          warn(s, `writing ${what} to ${dir} FAILED: ${error instanceof Error ? error.message : String(error)}`);
          return { dir, error };
        }
        if (kind === 'final') s.finalPath = dir;
        emit({ type: 'checkpoint', saeId: s.id, step: s.trainer.stepCount, tokens: s.tokens, path: dir });
        return undefined;
      };

      const finishSlot = (s: Slot) => {
        if (s.finished) return;
        s.finished = true;
        const lost = checkpoint(s, 'final');
        if (lost) lostFinals.push({ slot: s, ...lost });
        freeSlot(s);
      };

      /** All SAEs done (or the stream ended): stop reading, write the final SAEs, say done. */
      const finish = () => {
        if (finishing) return;
        finishing = true;
        upstream?.unsubscribe();
        slots.forEach(finishSlot);
        for (const s of slots) emit({ type: 'done', saeId: s.id, step: s.steps, tokens: s.tokens, ...(s.finalPath ? { path: s.finalPath } : {}) });
        if (subscriber.closed) return;
        if (lostFinals.length > 0) {
          const first = lostFinals[0]!;
          const also = lostFinals.length > 1 ? ` (and ${lostFinals.length - 1} more: ${lostFinals.slice(1).map((l) => l.slot.id).join(', ')})` : '';
          subscriber.error(new StageError(`trainSae(${first.slot.id}): writing the final SAE to ${first.dir}${also}`, first.error));
        } else subscriber.complete();
      };

      const trainOn = (b: ActivationBatch) => {
        if (b.normScalingFactor !== undefined) norm.normScalingFactor = b.normScalingFactor;
        if (b.targetNormScalingFactor !== undefined) norm.targetNormScalingFactor = b.targetNormScalingFactor;
        const xs: HookSlices = new Map();
        try {
          hookSlices(b, slots, xs);
          for (const s of slots) {
            if (s.finished || finishing || subscriber.closed) continue;
            const x = xs.get(sliceKey(b, s))!;
            let m;
            try {
              m = s.trainer!.step(x, targetOf(b, s));
            } catch (e) {
              throw new StageError(`trainSae(${s.id}) step ${s.trainer!.stepCount}`, e);
            }
            s.tokens += x.shape[0];
            s.steps = s.trainer!.stepCount;
            if (!Number.isFinite(m.losses.total)) {
              const what = `the loss is ${m.losses.total} (${Object.entries(m.losses).map(([k, v]) => `${k} ${v}`).join(', ')})`;
              if (!o.allowNonFiniteLoss) {
                const where = opts.checkpointPath ? `; the checkpoints written before this step under ${platform.path.join(opts.checkpointPath, s.id)} are intact` : '';
                throw new StageError(`trainSae(${s.id}) step ${m.step}`, new Error(`${what}: training stopped${where}. To train on regardless, allow it (TrainSaeOptions.allowNonFiniteLoss; sae-rx train --allow-nan)`));
              }
              if (!warnedNonFinite.has(s.id)) {
                warnedNonFinite.add(s.id);
                warn(s, `step ${m.step}: ${what}; training goes on (allowNonFiniteLoss / --allow-nan)`);
              }
            }
            const last = s.trainer!.stepCount >= s.totalSteps;
            if (m.step % logEvery === 0 || last)
              emit({ type: 'step', saeId: s.id, step: m.step, tokens: s.tokens, losses: stepRecordLosses(m), ...stepRecordArchitecture(m), l0: m.l0, explainedVarianceMean: m.explainedVarianceMean, explainedVarianceStd: m.explainedVarianceStd, deadFeatures: m.deadFeatures, lr: m.lr, l1Coefficient: m.l1Coefficient, phase: m.phase });
            if (s.thresholds.length > 0 && s.tokens > s.thresholds[0]!) {
              while (s.thresholds.length > 0 && s.tokens > s.thresholds[0]!) s.thresholds.shift();
              if (!last) checkpoint(s, 'checkpoint');
            }
            if (last) finishSlot(s);
          }
        } finally {
          releaseSlices(b, xs);
          disposeBatch(b);
        }
        if (slots.every((s) => s.finished)) finish();
      };
      const drainInit = () => init.drain(slots, trainOn, () => !subscriber.closed && !finishing);

      const handleSignals = opts.handleSignals ?? true;
      let signals: { remove: () => void } | undefined;
      const onSignal = (sig: NodeJS.Signals) => {
        finishing = true;
        upstream?.unsubscribe();
        const where = opts.checkpointPath ? `checkpoints under ${opts.checkpointPath}` : 'no checkpoint (no checkpointPath)';
        warn(undefined, `trainSae: ${sig} received; writing ${where}`);
        let lost: { slot: Slot; dir: string; error: unknown } | undefined;
        for (const s of slots) {
          if (s.finished) continue;
          const failed = checkpoint(s, 'interrupt');
          if (failed && !lost) lost = { slot: s, ...failed };
        }
        freeAll();
        signals?.remove();
        if (lost) {
          // the checkpoint the user asked for is not there: a failure (exit 1), not an interruption
          if (!subscriber.closed) subscriber.error(new StageError(`trainSae(${lost.slot.id}): ${sig} received; writing its checkpoint to ${lost.dir}`, lost.error));
          return;
        }
        if (!subscriber.closed) subscriber.error(new SaeRxError(`trainSae: interrupted by ${sig}; ${where}`));
        if (opts.exitOnSignal ?? true) process.kill(process.pid, sig);
      };
      let detach: (() => void) | undefined;
      try {
        // first, so that a handle already in use fails before anything is allocated
        detach = opts.handle?.attach((id) => {
          const s = slots.find((x) => x.id === id);
          return s?.sae && !s.finished ? { sae: s.sae, ...definedFactors(norm) } : undefined;
        });
        o.specs.forEach((spec, i) => {
          const ck = resumed.get(ids[i]!);
          createSlot(slots, ids[i]!, spec, o.nCheckpoints, ck);
          if (ck?.normScalingFactor !== undefined) norm.normScalingFactor = ck.normScalingFactor;
          if (ck?.targetNormScalingFactor !== undefined) norm.targetNormScalingFactor = ck.targetNormScalingFactor;
        });
        // b_dec comes from the checkpoint when every SAE resumes.
        if (resumed.size === slots.length) init.done = true;
        for (const s of slots) if (s.trainer!.stepCount >= s.totalSteps) finishSlot(s);
      } catch (e) {
        detach?.();
        freeAll();
        subscriber.error(e instanceof SaeRxError ? e : new StageError('trainSae', e));
        return;
      }
      if (handleSignals) signals = onInterrupt(onSignal);

      const teardown = () => {
        detach?.();
        signals?.remove();
        freeAll();
      };
      if (slots.every((s) => s.finished)) {
        subscriber.add(teardown);
        finish();
        return;
      }
      // Linked before subscribing (and kept in `upstream` before the source runs), so that finishing, or an unsubscribe from
      // downstream, stops even a synchronous source mid-emission.
      upstream = linkUpstream(
        subscriber,
        {
          next: (b: ActivationBatch) => {
            if (finishing || subscriber.closed) {
              disposeBatch(b);
              return;
            }
            if (!init.done) {
              if (init.add(b)) drainInit();
              return;
            }
            trainOn(b);
          },
          complete: () => {
            if (!init.done) drainInit();
            for (const s of slots)
              if (!s.finished) warn(s, `the activation stream ended after ${s.trainer?.stepCount ?? 0} of ${s.totalSteps} steps; saving what was trained`);
            finish();
          },
        },
        teardown,
      );
      source.subscribe(upstream);
    });

  if (Object.keys(o.resumeDirs).length === 0) return (source) => train(source, new Map());
  // Reading the checkpoints is async; the stream is subscribed only once they are in memory.
  return (source) => defer(() => from(loadResumeStates(o.resumeDirs))).pipe(mergeMap((resumed) => train(source, resumed)));
}
