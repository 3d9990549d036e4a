/**
 * What the cache and sweep coordinators share: add the run's flow, then poll until the run's
 * commit marker is in the store, reporting progress. The coordinator holds no state a worker
 * needs: the store is the source of truth for what is done. While polling it
 *
 * - adds the flow again when the queue has lost the run (a Redis restarted without
 *   persistence): job ids are the run's, committed work is skipped by the jobs;
 * - fails (StageError) when the run's finalize job failed for good;
 * - rides out an unreachable queue or store (logs, keeps polling), as the workers do;
 * - collects the names of the workers seen on the queue.
 *
 * Between polls it also listens to the queue's events (BullMQ's QueueEvents, a Redis stream):
 * the finalize job's completion ends the wait at once, so the run returns when its last job
 * does, not up to a poll interval later. The events are only a wake-up; the store still says
 * whether the run is done, and polling alone carries on when the events are lost.
 */
import { FlowProducer, type FlowJob, Job, Queue, QueueEvents } from 'bullmq';
import { ConfigError, StageError } from '../errors.js';
import { DEFAULT_QUEUE_NAME, redisConnection } from './connection.js';


export interface WatchRunOptions<R> {
  /** What runs, for errors ("distributed cache"). */
  readonly what: string;
  readonly queue: string;
  readonly queueName?: string;
  /** The run's flow (its root is the finalize job `finalizeId`). */
  readonly flow: (queueName: string) => FlowJob;
  readonly finalizeId: string;
  /** The run's result once its commit marker is in the store, else undefined. */
  readonly finished: () => Promise<R | undefined>;
  /** One progress report; may throw a StageError (a job failed for good). `step` names what is awaited (for the stall warning). */
  readonly poll: (p: { queue: Queue; workersSeen: number; step: (what: string) => void }) => Promise<void>;
  readonly pollMs?: number;
  /** Say so when one poll has waited this long (ms, default 30 000). */
  readonly stallWarningMs?: number;
  readonly log: (line: string) => void;
  /** Said once the flow is added. */
  readonly submitted: (queueName: string) => string;
}

export async function watchRun<R>(o: WatchRunOptions<R>): Promise<R> {
  const name = o.queueName ?? DEFAULT_QUEUE_NAME;
  const conn = redisConnection(o.queue);
  const producer = new FlowProducer({ connection: conn });
  const queue = new Queue(name, { connection: conn });
  const addFlow = () => producer.add(o.flow(name));
  // a blocking reader of the queue's event stream needs a connection of its own
  const eventsConn = redisConnection(o.queue);
  const events = new QueueEvents(name, { connection: eventsConn });
  events.on('error', () => {}); // an unreachable queue is said by the polls
  let wake: (() => void) | undefined;
  events.on('completed', ({ jobId }) => jobId === o.finalizeId && wake?.());
  const nap = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(() => ((wake = undefined), r()), ms);
      wake = () => (clearTimeout(t), (wake = undefined), r());
    });
  // A poll that does not come back is said, with what it waits on: a queue or store that
  // neither answers nor fails would otherwise look like a run making no progress.
  let pending = 'adding the flow to the queue';
  let since = Date.now();
  const step = (what: string) => {
    pending = what;
    since = Date.now();
  };
  const stallMs = o.stallWarningMs ?? 30_000;
  const stall = setInterval(() => {
    const s = Date.now() - since;
    if (s >= stallMs) o.log(`progress: still waiting on ${pending} after ${Math.round(s / 1000)} s`);
  }, stallMs);
  stall.unref();
  try {
    await addFlow();
    o.log(o.submitted(name));
    const workers = new Set<string>();
    for (;;) {
      try {
        step('the store (is the run finished?)');
        const r = await o.finished();
        if (r !== undefined) return r;
        step('the queue (the finalize job)');
        const fin = await Job.fromId(queue, o.finalizeId);
        if (!fin) {
          o.log('the queue has no job of this run any more (Redis restarted without persistence?); submitting it again');
          step('the queue (adding the flow again)');
          await addFlow();
          continue;
        }
        if ((await fin.getState()) === 'failed') throw new StageError(o.what, new Error(fin.failedReason || 'the finalize job failed'));
        step('the queue (workers)');
        for (const w of await queue.getWorkers()) workers.add(String(w['name'] ?? w['id']));
        await o.poll({ queue, workersSeen: workers.size, step });
      } catch (e) {
        if (e instanceof StageError || e instanceof ConfigError) throw e;
        // the queue or the store is unreachable for now: keep watching, the workers ride it out too
        o.log(`progress: ${(e as Error).message}; retrying`);
      }
      step('the next poll');
      await nap(o.pollMs ?? 500);
    }
  } finally {
    clearInterval(stall);
    await events.close().catch(() => {});
    eventsConn.disconnect();
    await queue.close().catch(() => {});
    await producer.close().catch(() => {});
    conn.disconnect();
  }
}
