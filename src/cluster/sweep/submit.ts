/**
 * `sae-rx train CONFIG --lr a,b,… --queue redis://… --store …`: the sweep's groups as jobs
 * under one finalize job, and a progress view over them (jobs done, each running group's step,
 * workers seen) until sweep.json is in the store. Like the cache coordinator it holds no state:
 * stopped and started again it adds nothing twice; if the queue lost the run, it adds it again.
 */
import { Job } from 'bullmq';
import { createHash } from 'node:crypto';
import type { LanguageModelSaeRunnerConfig } from '../../config/languageModelRunnerConfig.js';
import { encodeRunnerConfig } from '../../config/runnerConfig.js';
import { ConfigError } from '../../errors.js';
import { runnerSingles } from '../../runners/runnerSingles.js';
import type { Store } from '../../store/Store.js';
import { StoreNotFoundError } from '../../store/Store.js';
import { isCommitted } from '../../store/commit.js';
import { runJobOptions } from '../connection.js';
import { watchRun } from '../watchRun.js';
import { SWEEP_JOB, type SweepJobData, sweepGroups, sweepKeys } from './plan.js';

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
  const opts = runJobOptions(o.attempts);
  const base: SweepJobData = { runId, store: store.url, config };
  const totalSteps = Math.max(...singles.map((s) => Math.floor(s.training_tokens / s.train_batch_size)));
  return watchRun({
    what: 'distributed sweep',
    queue: o.queue,
    ...(o.queueName ? { queueName: o.queueName } : {}),
    finalizeId: `${runId}-finalize`,
    flow: (queueName) => ({
      name: SWEEP_JOB.finalize,
      queueName,
      data: { ...base, groups },
      opts: { ...opts, jobId: `${runId}-finalize` },
      children: groups.map((ids, k) => ({ name: SWEEP_JOB.group, queueName, data: { ...base, group: k, saeIds: ids }, opts: { ...opts, jobId: `${runId}-group-${k}` } })),
    }),
    submitted: (queueName) =>
      `submitted ${singles.length} SAEs as ${groups.length} job${groups.length > 1 ? 's' : ''} (${groups.map((g) => g.length).join('+')}) as run ${runId} to queue "${queueName}"`,
    finished: async () => ((await store.size(sweepKeys.summary)) === undefined ? undefined : (JSON.parse(new TextDecoder().decode(await store.get(sweepKeys.summary))) as SweepResult)),
    poll: async ({ queue, workersSeen, step }) => {
      step('the store and the queue (each job)');
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
      o.onProgress?.({ jobsDone: done, jobs: groups.length, steps, totalSteps, workersSeen });
    },
    log,
    ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
  });
}
