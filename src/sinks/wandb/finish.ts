/**
 * Ending a W&B run without holding up the process: the queue is sent and the run completed,
 * but only for so long. The wait is on the wall clock (not the sink's clock), the last resort
 * that lets a process exit. When W&B has not answered a single request during the run (a wrong
 * URL, no network), the wait is short (`unansweredCloseTimeoutMs`, a few seconds) instead of
 * `closeTimeoutMs`, and the warning says what was not sent.
 */
import type { HistoryQueue } from './historyQueue.js';
import type { WandbSettings } from './options.js';
import type { WandbPump } from './pump.js';

/** Waits for `p` at most `timeoutMs` (wall clock); true if it settled in time. */
export function waitAtMost(p: Promise<void>, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const h = setTimeout(() => resolve(false), timeoutMs);
    void p.then(() => {
      clearTimeout(h);
      resolve(true);
    });
  });
}

export interface FinishContext {
  readonly pump: WandbPump;
  readonly queue: HistoryQueue;
  readonly settings: WandbSettings;
  readonly warn: (m: string) => void;
  /** Where W&B was expected (for the warning). */
  readonly baseUrl: string;
  /** entity/project/id as asked for, for the warning when no run was created. */
  readonly runName: string;
}

/** Asks the pump to complete the run with `exitcode` and gives up after the bound (see above). */
export async function finishRun(c: FinishContext, exitcode: number): Promise<void> {
  const { pump, queue, settings } = c;
  pump.finish(exitcode);
  let waited = 0;
  const short = Math.min(settings.unansweredCloseTimeoutMs, settings.closeTimeoutMs);
  if (!pump.answered && short < settings.closeTimeoutMs) {
    if (await waitAtMost(pump.closed, short)) return;
    waited = short;
    if (!pump.answered) {
      const lines = queue.pendingLines();
      c.warn(
        `W&B at ${c.baseUrl} did not answer any request during the run; completing the run timed out ${short / 1000} s after ` +
          `training ended. Not sent: ${lines} history line${lines === 1 ? '' : 's'}, the run summary and the run's completion` +
          (pump.run ? '' : ` (no run ${c.runName} was created on W&B)`),
      );
      if (pump.state === 'finishing') pump.fail();
      return;
    }
    // W&B answered meanwhile: give it the rest of closeTimeoutMs.
  }
  const rest = settings.closeTimeoutMs - waited;
  if (await waitAtMost(pump.closed, rest)) return;
  c.warn(`completing the W&B run timed out after ${settings.closeTimeoutMs} ms with ${queue.pendingLines()} history lines unsent`);
  // Gave up: stop the pump's retries so the process can exit.
  if (pump.state === 'finishing') pump.fail();
}
