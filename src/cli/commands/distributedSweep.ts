/**
 * `sae-rx train CONFIG --queue redis://… --store DIR|s3://… [--saes-per-job N]`: submit the
 * sweep as jobs and show their progress until every SAE is in the store (cluster/sweep/).
 */
import type { LanguageModelSaeRunnerConfig } from '../../config/languageModelRunnerConfig.js';
import { submitSweep } from '../../cluster/sweep/submit.js';
import { openStore } from '../../store/openStore.js';
import type { ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import { queueUrl } from './worker.js';

export async function runDistributedSweep(ctx: CliContext, args: ParsedArgs, config: LanguageModelSaeRunnerConfig): Promise<number> {
  const where = args.flags['store'];
  if (typeof where !== 'string') throw new UsageError('--queue needs --store DIR|s3://BUCKET/PREFIX: where every worker puts checkpoints and SAEs');
  const per = args.flags['saes-per-job'];
  const saesPerJob = per === undefined ? undefined : Number(per);
  if (saesPerJob !== undefined && !(Number.isInteger(saesPerJob) && saesPerJob > 0)) throw new UsageError(`--saes-per-job needs a positive integer, got ${JSON.stringify(per)}`);
  const store = openStore(where, { cwd: ctx.io.cwd, env: ctx.io.env });
  let last = '';
  try {
    const r = await stage('distributed sweep', () =>
      submitSweep(config, {
        queue: queueUrl(ctx, args)!,
        ...(typeof args.flags['queue-name'] === 'string' ? { queueName: args.flags['queue-name'] } : {}),
        store,
        ...(saesPerJob !== undefined ? { saesPerJob } : {}),
        log: (l) => ctx.info(l),
        onProgress: (p) => {
          const running = Object.entries(p.steps).map(([k, s]) => `job ${k} step ${s}/${p.totalSteps}`);
          const line = `jobs ${p.jobsDone}/${p.jobs} done${running.length ? '; ' + running.join(', ') : ''}; workers seen ${p.workersSeen}`;
          if (line !== last && ctx.flags.progress) ctx.info(line);
          last = line;
        },
      }),
    );
    ctx.emit(
      { type: 'result', command: 'train', distributed: true, store: store.url, records: `${store.url}/records.jsonl`, saes: r.saes },
      [...r.saes.map((s) => `SAE ${s.saeId}: ${s.path}`), `records: ${store.url}/records.jsonl`].join('\n'),
    );
    return 0;
  } finally {
    await store.close();
  }
}
