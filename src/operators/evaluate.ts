/**
 * `evaluate`: eval records in a training stream (SAELens v1.5 runs `run_evals` after every step
 * where `(step + 1) % (wandb_log_frequency × eval_every_n_wandb_logs) == 0`).
 *
 * An operator over the records of `trainSae`: every record passes through unchanged, and
 * `eval` records (`runEvals` on held-out tokens, SAELens's metric names) are inserted after
 *   - each `step` record at the SAELens cadence, when `saeOf` gives the live SAE of that id
 *     (evaluated synchronously, right after the step, so the weights are the step's);
 *   - each `checkpoint` record and the `done` record's final SAE (`fromCheckpoints`, default
 *     true): the SAE folder on disk is loaded and evaluated — the norm scaling factor is folded
 *     into saved SAEs, so they evaluate on raw activations. This gives the eval "at the end".
 * `saeOf` is `trainSae`'s `TrainSaeHandle.saeOf` (pass a handle in trainSae's options, one per
 * subscription, and put `evaluate` right after that `trainSae`); without it the evals come from
 * the checkpoints only. A step's eval needs that step's record (trainSae's `logEvery` 1).
 *
 * A failed eval never stops training: it becomes a `warning` record.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { subscribeUpstream } from '../stream/subscribeUpstream.js';
import { runEvals, type EvalTokens, type RunEvalsOptions } from '../analysis/evals.js';
import { ConfigError } from '../errors.js';
import type { HookedTransformer } from '../model/HookedTransformer.js';
import type { Sae } from '../sae/Sae.js';
import { loadSae } from './folderIo.js';
import type { EvalRecord, TrainEvent } from '../stream/TrainEvent.js';

export interface LiveSae {
  readonly sae: Sae;
  /** The factor the SAE's inputs are scaled by while it trains (normalizeActivations). */
  readonly normScalingFactor?: number;
  /** Transcoders: the factor its targets are scaled by while it trains (its output is divided by it). */
  readonly targetNormScalingFactor?: number;
}

export interface EvaluateOptions {
  readonly model: HookedTransformer;
  /** Held-out token batches (never the training stream): a fixed list, or a factory called per eval. */
  readonly tokens: Iterable<EvalTokens> | (() => Iterable<EvalTokens>);
  /** SAELens `wandb_log_frequency` (default 10). */
  readonly wandbLogFrequency?: number;
  /** SAELens `eval_every_n_wandb_logs` (default 100). */
  readonly evalEveryNWandbLogs?: number;
  /** The live SAE of an id, for evals at the cadence (none: only checkpoint evals). */
  readonly saeOf?: (saeId: string) => LiveSae | undefined;
  /** Evaluate the SAE folders of checkpoint records and the final SAE (default true). */
  readonly fromCheckpoints?: boolean;
  /** Passed to runEvals (hookPoint, headIndex, thresholds, bins). */
  readonly evalOptions?: RunEvalsOptions;
  /** Loads an SAE folder (default `loadSae`). */
  readonly loadSae?: (dir: string) => Promise<Sae>;
  /** Called with each eval's timing (ms, batches), e.g. for benchmarks. */
  readonly onTiming?: (ms: number, batches: number) => void;
}

/** Whether SAELens evaluates after step index `step` (0-based) at this cadence. */
export function isEvalStep(step: number, wandbLogFrequency = 10, evalEveryNWandbLogs = 100): boolean {
  return (step + 1) % (wandbLogFrequency * evalEveryNWandbLogs) === 0;
}

export function evaluate(opts: EvaluateOptions): OperatorFunction<TrainEvent, TrainEvent> {
  const freq = opts.wandbLogFrequency ?? 10;
  const every = opts.evalEveryNWandbLogs ?? 100;
  for (const [k, v] of [['wandbLogFrequency', freq], ['evalEveryNWandbLogs', every]] as const)
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`evaluate(): ${k} must be a positive integer, got ${v}`);
  const fromCheckpoints = opts.fromCheckpoints ?? true;
  const load = opts.loadSae ?? loadSae;
  const tokens = () => (typeof opts.tokens === 'function' ? (opts.tokens as () => Iterable<EvalTokens>)() : opts.tokens);

  const evalRecord = (saeId: string, step: number, nTokens: number, sae: Sae, normScalingFactor?: number, targetNormScalingFactor?: number): EvalRecord => {
    const r = runEvals(opts.model, sae, tokens(), {
      ...opts.evalOptions,
      ...(normScalingFactor !== undefined ? { normScalingFactor } : {}),
      ...(targetNormScalingFactor !== undefined ? { targetNormScalingFactor } : {}),
    });
    opts.onTiming?.(r.ms, r.batches);
    return { type: 'eval', saeId, step, tokens: nTokens, metrics: r.metrics, histograms: r.histograms };
  };
  const failure = (r: TrainEvent, e: unknown): TrainEvent => ({
    type: 'warning', saeId: r.saeId, step: r.step, tokens: r.tokens,
    message: `eval at step ${r.step} failed: ${e instanceof Error ? e.message : String(e)}`,
  });

  return (source) =>
    new Observable<TrainEvent>((subscriber) => {
      const evaluated = new Set<string>();
      // Folder evals are async (loading); records after one wait for it, so the order holds.
      let chain: Promise<void> = Promise.resolve();
      let pending = 0;
      let completed = false;
      const emit = (r: TrainEvent) => {
        if (!subscriber.closed) subscriber.next(r);
      };
      const maybeComplete = () => {
        if (completed && pending === 0 && !subscriber.closed) subscriber.complete();
      };
      const enqueue = (f: () => Promise<void> | void) => {
        pending++;
        chain = chain
          .then(f)
          .catch((e: unknown) => subscriber.error(e))
          .finally(() => {
            pending--;
            maybeComplete();
          });
      };
      const handle = (r: TrainEvent) => {
        emit(r);
        if (r.type === 'step' && opts.saeOf && isEvalStep(r.step, freq, every)) {
          const live = opts.saeOf(r.saeId);
          if (live && !live.sae.isDisposed) {
            try {
              emit(evalRecord(r.saeId, r.step, r.tokens, live.sae, live.normScalingFactor, live.targetNormScalingFactor));
            } catch (e) {
              emit(failure(r, e));
            }
          }
        }
      };
      const folderEval = async (r: TrainEvent, dir: string) => {
        let sae: Sae | undefined;
        try {
          sae = await load(dir);
          if (!subscriber.closed) emit(evalRecord(r.saeId, r.step, r.tokens, sae));
        } catch (e) {
          emit(failure(r, e));
        } finally {
          sae?.dispose();
        }
      };
      subscribeUpstream(subscriber, source, {
        next: (r: TrainEvent) => {
          const dir = fromCheckpoints && (r.type === 'checkpoint' || r.type === 'done') ? r.path : undefined;
          if (pending === 0 && !dir) return handle(r);
          const fresh = dir !== undefined && !evaluated.has(dir);
          if (fresh) evaluated.add(dir);
          // a checkpoint's eval follows its record; the final SAE's eval precedes `done`
          if (fresh && r.type === 'done') enqueue(() => folderEval(r, dir));
          enqueue(() => handle(r));
          if (fresh && r.type !== 'done') enqueue(() => folderEval(r, dir));
        },
        complete: () => {
          completed = true;
          maybeComplete();
        },
      });
    });
}
