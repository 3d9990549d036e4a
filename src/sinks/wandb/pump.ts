/**
 * The one async loop that owns all of the W&B sink's network traffic: it creates the run, sends
 * the history queue in batches (no more often than `minSendIntervalMs` while training, at once
 * for a flush or the end), sends heartbeats when idle, and completes the run. Every request is
 * retried with the shared backoff (io/retry.ts) while W&B is unreachable; a non-retryable answer
 * (401, 404, GraphQL error) stops the sink. Nothing here ever throws into training.
 */
import { redactSecrets } from '../../config/secrets.js';
import { RetryStoppedError, retryWithBackoff } from '../../io/retry.js';
import { type UpsertRunInput, type WandbClient, WandbRequestError } from './client.js';
import type { HistoryQueue } from './historyQueue.js';
import type { WandbSettings, WandbSinkStats } from './options.js';

export interface WandbPumpDeps {
  readonly client: WandbClient;
  readonly queue: HistoryQueue;
  readonly settings: WandbSettings;
  readonly warn: (m: string) => void;
  readonly run: UpsertRunInput;
}

export class WandbPump {
  state: WandbSinkStats['state'] = 'running';
  run: { entity: string; project: string; id: string } | null = null;
  /** Failed requests that were retried. */
  failedRequests = 0;
  /** Whether W&B answered any request of this run (an unreachable server never does). */
  answered = false;
  /** Resolves when the loop ended: run completed, or the sink stopped. */
  readonly closed: Promise<void>;

  private exitcode = 0;
  private finishRequested = false;
  /** A flush or the end wants the queue sent now, not after minSendIntervalMs. */
  private urgent = false;
  private started = false;
  private wakeUp: (() => void) | null = null;
  private readonly idleWaiters: Array<() => void> = [];
  /** Pending sleeps; stopping the sink ends them all. */
  private readonly stopWaiters = new Set<() => void>();
  private resolveClosed!: () => void;

  constructor(private readonly d: WandbPumpDeps) {
    this.closed = new Promise<void>((r) => (this.resolveClosed = r));
  }

  /** There is something to send: start the loop if needed, and end an idle wait. */
  wake(): void {
    this.start();
    this.poke();
  }

  private poke(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /** Resolves once everything queued so far is sent (or the sink stopped). */
  whenIdle(): Promise<void> {
    this.urgent = true;
    const idle = new Promise<void>((r) => this.idleWaiters.push(r));
    this.wake();
    return idle;
  }

  /** Sends what is queued, then completes the run with `exitcode`. */
  finish(exitcode: number): void {
    this.exitcode = exitcode;
    this.finishRequested = true;
    this.state = 'finishing';
    this.wake();
  }

  /** Stops for good: unsent lines are dropped and counted, waits end, no request follows. */
  fail(): void {
    this.state = 'failed';
    this.d.queue.dropAll();
    for (const stop of [...this.stopWaiters]) stop();
    this.poke();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.loop()
      .catch((e) => {
        this.d.warn(`stopped: ${(e as Error)?.message ?? String(e)}`);
        this.fail();
      })
      .finally(() => {
        for (const w of this.idleWaiters.splice(0)) w();
        const dropped = this.d.queue.droppedLines;
        if (dropped > 0) this.d.warn(`${dropped} history line${dropped === 1 ? ' was' : 's were'} not sent to W&B`);
        this.resolveClosed();
      });
  }

  // 'idle' waits end early when data arrives (wake) and do not keep the process alive;
  // 'backoff' waits keep it alive and end early only when the sink stops.
  private sleep(ms: number, mode: 'idle' | 'backoff'): Promise<void> {
    const clock = this.d.settings.clock;
    return new Promise<void>((resolve) => {
      let handle: unknown;
      const done = () => {
        this.stopWaiters.delete(done);
        if (this.wakeUp === done) this.wakeUp = null;
        clock.clearTimeout(handle);
        resolve();
      };
      handle = clock.setTimeout(done, ms);
      this.stopWaiters.add(done);
      if (mode === 'idle') {
        (handle as { unref?: () => void } | undefined)?.unref?.();
        this.wakeUp = done;
      }
    });
  }

  /** Runs `attempt` until it succeeds; false if the sink must stop (permanent error, or stopped). */
  private async request(what: string, attempt: () => Promise<void>): Promise<boolean> {
    const message = (e: unknown) =>
      e instanceof WandbRequestError ? e.message : this.d.client.scrub(String((e as Error)?.message ?? e));
    let failures = 0;
    try {
      await retryWithBackoff(attempt, {
        policy: this.d.settings.retry,
        retryable: (e) => !(e instanceof WandbRequestError) || e.retryable,
        sleep: (ms) => this.sleep(ms, 'backoff'),
        stopped: () => this.state === 'failed',
        onRetry: (e, n) => {
          this.failedRequests++;
          failures = n;
          if (n === 1) this.d.warn(`${what} failed: ${message(e)}; buffering and retrying with backoff (training goes on)`);
        },
      });
    } catch (e) {
      if (!(e instanceof RetryStoppedError)) {
        this.d.warn(`${what} failed, not retrying: ${message(e)}; nothing more is sent to W&B (training goes on)`);
      }
      return false;
    }
    this.answered = true;
    if (failures > 0) this.d.warn(`${what}: W&B reachable again after ${failures} failed attempt${failures === 1 ? '' : 's'}; catching up`);
    return true;
  }

  private async loop(): Promise<void> {
    const { client, queue, settings } = this.d;
    const clock = settings.clock;
    const ok = await this.request('creating the W&B run', async () => {
      const input = this.d.run;
      const r = await client.upsertRun({ ...input, ...(input.config ? { config: redactSecrets(input.config) } : {}) });
      this.run = { entity: r.entity, project: r.project, id: r.runId };
      queue.offset = r.historyLineCount;
    });
    if (!ok || !this.run) return this.fail();
    const r = this.run;
    let lastSend = clock.now();
    for (;;) {
      if (this.state === 'failed') return;
      if (queue.hasWork()) {
        const wait = lastSend + settings.minSendIntervalMs - clock.now();
        if (!this.urgent && !this.finishRequested && wait > 0) {
          await this.sleep(wait, 'idle');
          continue;
        }
        const sent = await this.request('sending history', async () => {
          const batch = queue.take(settings.maxLinesPerRequest);
          try {
            await client.fileStream(r.entity, r.project, r.id, batch.body);
          } catch (e) {
            queue.unsent();
            throw e;
          }
          queue.acknowledged(batch);
        });
        lastSend = clock.now();
        if (!sent) return this.fail();
        continue;
      }
      this.urgent = false;
      for (const w of this.idleWaiters.splice(0)) w();
      if (this.finishRequested) {
        const done = await this.request('completing the W&B run', () =>
          client.fileStream(r.entity, r.project, r.id, { complete: true, exitcode: this.exitcode }));
        if (!done) return this.fail();
        this.state = 'finished';
        return;
      }
      const before = clock.now();
      if (settings.heartbeatMs > 0) await this.sleep(settings.heartbeatMs, 'idle');
      else await new Promise<void>((res) => (this.wakeUp = res)); // no heartbeats: wait for data only
      if (!queue.hasWork() && !this.finishRequested && settings.heartbeatMs > 0 && clock.now() - before >= settings.heartbeatMs) {
        // Tells W&B the run is alive; a failure here is retried like any other request.
        if (!(await this.request('heartbeat', () => client.fileStream(r.entity, r.project, r.id, {})))) return this.fail();
        lastSend = clock.now();
      }
    }
  }
}
