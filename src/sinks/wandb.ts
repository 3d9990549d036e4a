/**
 * A Weights & Biases sink: TrainEvent records → a W&B run, as SAELens v1.5.0 logs it.
 *
 * It never blocks or kills training (DESIGN.md §3.4): `next()` only appends a line to a bounded
 * queue (wandb/historyQueue.ts) and returns; one async pump (wandb/pump.ts) sends the queue,
 * retrying with backoff while W&B is unreachable, so an outage is buffered and caught up
 * afterwards. The end of the run waits a bounded time (wandb/finish.ts). The API key only ever
 * goes into the Authorization header; every message the sink emits is scrubbed of it.
 */
import { generateRunId } from '../config/languageModelRunnerConfig.js';
import type { TrainEvent } from '../stream/TrainEvent.js';
import { resolveWandbAuth } from './wandb/auth.js';
import { WandbClient } from './wandb/client.js';
import { finishRun, waitAtMost } from './wandb/finish.js';
import { HistoryQueue } from './wandb/historyQueue.js';
import { type WandbSink, type WandbSinkOptions, wandbSettings } from './wandb/options.js';
import { WandbPump } from './wandb/pump.js';
import { evalRow, stepRow } from './wandb/records.js';

export type { WandbClock, WandbRetryOptions, WandbSink, WandbSinkOptions, WandbSinkStats } from './wandb/options.js';
export { wandbOptionsFromRunnerConfig } from './wandb/runnerConfig.js';

/**
 * An observer of TrainEvent records that logs them to a W&B run: step records every
 * `logFrequency` steps as history rows under SAELens's names, eval records (metrics and
 * histograms) at their step, the latest values as the run summary; `done` for every SAE seen,
 * or complete(), finishes the run (exitcode 0; error() gives exitcode 1).
 */
export function wandbSink(opts: WandbSinkOptions): WandbSink {
  const auth = resolveWandbAuth(opts);
  const client = new WandbClient(auth.baseUrl, auth.apiKey, opts.fetch, opts.requestTimeoutMs);
  const settings = wandbSettings(opts);
  const warnOut = opts.warn ?? ((m: string) => process.stderr.write(`sae-rx: ${m}\n`));
  const warn = (m: string) => {
    try {
      warnOut(client.scrub(`wandb: ${m}`));
    } catch {
      // a failing warn callback must not reach training either
    }
  };
  const runId = opts.id ?? generateRunId();
  const queue = new HistoryQueue(settings.maxBufferedLines, settings.clock, settings.clock.now(), warn);
  const pump = new WandbPump({
    client,
    queue,
    settings,
    warn,
    run: { runId, project: opts.project, entity: opts.entity, displayName: opts.runName, config: opts.config },
  });
  const finishContext = {
    pump, queue, settings, warn, baseUrl: auth.baseUrl,
    runName: `${opts.entity ?? '(default entity)'}/${opts.project}/${runId}`,
  };

  // Metric-name suffix per SAE: SAELens's `_wandb_log_suffix`.
  const suffixes = new Map<string, string>();
  const suffixOf = (saeId: string): string => {
    let s = suffixes.get(saeId);
    if (s === undefined) {
      s = opts.metricSuffix ? opts.metricSuffix(saeId) : suffixes.size === 0 ? '' : `_${saeId}`;
      suffixes.set(saeId, s);
    }
    return s;
  };
  const doneSaes = new Set<string>();
  let finishing = false;

  const closeRow = () => {
    if (queue.closeRow()) pump.wake();
  };
  const finish = (code: number) => {
    if (finishing || pump.state !== 'running') return;
    finishing = true;
    closeRow();
    void finishRun(finishContext, code);
  };
  const guard = (f: () => void) => {
    try {
      f();
    } catch (e) {
      warn(`ignored a record it could not log: ${(e as Error)?.message ?? String(e)}`);
    }
  };

  return {
    name: `wandb ${opts.project}/${runId}`,
    next: (ev: TrainEvent) =>
      guard(() => {
        if (pump.state !== 'running') return;
        switch (ev.type) {
          case 'step': {
            const suffix = suffixOf(ev.saeId);
            if ((ev.step + 1) % settings.logFrequency === 0) {
              if (queue.addRow(ev.step, stepRow(ev, suffix))) pump.wake();
            } else if (queue.openStep() !== undefined && ev.step > queue.openStep()!) {
              // Training moved past the open row's step: nothing more joins it, send it now.
              closeRow();
            }
            break;
          }
          case 'eval':
            if (queue.addRow(ev.step, evalRow(ev, suffixOf(ev.saeId)))) pump.wake();
            break;
          case 'done':
            suffixOf(ev.saeId);
            doneSaes.add(ev.saeId);
            if ([...suffixes.keys()].every((id) => doneSaes.has(id))) finish(0);
            break;
          default:
            break;
        }
      }),
    error: () => guard(() => finish(1)),
    complete: () => guard(() => finish(0)),
    flush: (timeoutMs = settings.closeTimeoutMs) => {
      try {
        if (pump.state === 'failed' || pump.state === 'finished') return Promise.resolve();
        closeRow();
        if (!queue.hasWork()) return Promise.resolve();
        return waitAtMost(pump.whenIdle(), timeoutMs).then((inTime) => {
          if (!inTime) warn(`flush timed out after ${timeoutMs} ms with ${queue.pendingLines()} history lines unsent`);
        });
      } catch {
        return Promise.resolve();
      }
    },
    closed: pump.closed,
    stats: () => ({
      sentLines: queue.sentLines,
      pendingLines: queue.pendingLines(),
      droppedLines: queue.droppedLines,
      failedRequests: pump.failedRequests,
      run: pump.run ? { ...pump.run } : null,
      state: pump.state,
    }),
  };
}
