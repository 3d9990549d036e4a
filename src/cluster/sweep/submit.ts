/**
 * `sae-rx train CONFIG --lr a,b,… --queue redis://… --store …`: the sweep's groups as jobs
 * under one finalize job, and a progress view over them (jobs done, each running group's step,
 * workers seen) until sweep.json is in the store. Like the cache coordinator it holds no state:
 * stopped and started again it adds nothing twice; if the queue lost the run, it adds it again.
 */
import { FlowProducer, Job, Queue } from 'bullmq';
import { createHash } from 'node:crypto';
import type { LanguageModelSaeRunnerConfig } from '../../config/languageModelRunnerConfig.js';
import { encodeRunnerConfig } from '../../config/runnerConfig.js';
import { ConfigError, StageError } from '../../errors.js';
import { runnerSingles } from '../../runners/languageModelRunner.js';
import type { Store } from '../../store/Store.js';
import { StoreNotFoundError } from '../../store/Store.js';
import { isCommitted } from '../../store/commit.js';
import { DEFAULT_QUEUE_NAME, redisConnection } from '../connection.js';
import { SWEEP_JOB, type SweepJobData, sweepGroups, sweepKeys } from './jobs.js';

export interface SweepProgress {
  readonly jobsDone: number;
  readonly jobs: number;
  /** Step of the first SAE of each running group. */
  readonly steps: Readonly<Record<number, number>>;
  readonly totalSteps: number;
  readonly workersSeen: number;
}

export interface SubmitSweepOptions {
  readonly queue: string;
  readonly queueName?: string;
  readonly store: Store;
  readonly saesPerJob?: number;
  readonly attempts?: number;
  readonly pollMs?: number;
  readonly onProgress?: (p: SweepProgress) => void;
  readonly log?: (line: string) => void;
}

export interface SweepResult {
  readonly saes: Array<{ saeId: string; path: string }>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function submitSweep(cfg: LanguageModelSaeRunnerConfig, o: SubmitSweepOptions): Promise<SweepResult> {
  const store = o.store;
  const log = o.log ?? (() => {});
  const singles = runnerSingles(cfg);
  const groups = sweepGroups(singles, o.saesPerJob);
  const config = encodeRunnerConfig(cfg);
  // the run folder the config names is the job's own; the store is where the run lives
  delete config['checkpoint_path'];
  const text = JSON.stringify(config);
  const runId = 'sweep-' + createHash('sha256').update(store.url + '\n' + text + '\n' + JSON.stringify(groups)).digest('hex').slice(0, 16);
  try {
    const prev = new TextDecoder().decode(await store.get(sweepKeys.config));
    if (prev !== text) throw new ConfigError(`distributed sweep: ${store.url} holds a run of another config (config.json); choose another --store`);
    log(`continuing the run in ${store.url}`);
  } catch (e) {
    if (!(e instanceof StoreNotFoundError)) throw e;
    await store.put(sweepKeys.config, text);
  }
  const name = o.queueName ?? DEFAULT_QUEUE_NAME;
  const opts = { attempts: o.attempts ?? 5, backoff: { type: 'exponential', delay: 2000 }, failParentOnFailure: true, removeOnComplete: false };
  const base: SweepJobData = { runId, store: store.url, config };
  const conn = redisConnection(o.queue);
  const flow = new FlowProducer({ connection: conn });
  const queue = new Queue(name, { connection: conn });
  const finalizeId = `${runId}-finalize`;
  const addFlow = () =>
    flow.add({
      name: SWEEP_JOB.finalize,
      queueName: name,
      data: { ...base, groups },
      opts: { ...opts, jobId: finalizeId },
      children: groups.map((ids, k) => ({ name: SWEEP_JOB.group, queueName: name, data: { ...base, group: k, saeIds: ids }, opts: { ...opts, jobId: `${runId}-group-${k}` } })),
    });
  const totalSteps = Math.max(...singles.map((s) => Math.floor(s.training_tokens / s.train_batch_size)));
  try {
    await addFlow();
    log(`submitted ${singles.length} SAEs as ${groups.length} job${groups.length > 1 ? 's' : ''} (${groups.map((g) => g.length).join('+')}) as run ${runId} to queue "${name}"`);
    const workers = new Set<string>();
    for (;;) {
      try {
        if ((await store.size(sweepKeys.summary)) !== undefined) {
          return JSON.parse(new TextDecoder().decode(await store.get(sweepKeys.summary))) as SweepResult;
        }
        const fin = await Job.fromId(queue, finalizeId);
        if (!fin) {
          log('the queue has no job of this run any more (Redis restarted without persistence?); submitting it again');
          await addFlow();
          continue;
        }
        if ((await fin.getState()) === 'failed') throw new StageError('distributed sweep', new Error(fin.failedReason || 'the finalize job failed'));
        let done = 0;
        const steps: Record<number, number> = {};
        for (let k = 0; k < groups.length; k++) {
          if (await isCommitted(store, sweepKeys.result(k))) {
            done++;
            continue;
          }
          const j = await Job.fromId(queue, `${runId}-group-${k}`);
          const p = j?.progress as { step?: number } | undefined;
          if (p && typeof p.step === 'number') steps[k] = p.step;
        }
        for (const w of await queue.getWorkers()) workers.add(String(w['name'] ?? w['id']));
        o.onProgress?.({ jobsDone: done, jobs: groups.length, steps, totalSteps, workersSeen: workers.size });
      } catch (e) {
        if (e instanceof StageError || e instanceof ConfigError) throw e;
        log(`progress: ${(e as Error).message}; retrying`);
      }
      await sleep(o.pollMs ?? 500);
    }
  } finally {
    await queue.close().catch(() => {});
    await flow.close().catch(() => {});
    conn.disconnect();
  }
}
