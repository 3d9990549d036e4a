/**
 * `sae-rx worker --queue redis://…`: process cache and sweep jobs from the queue until stopped
 * (SIGINT/SIGTERM: the running job finishes... or, killed, is taken by another worker).
 */
import type { FlagSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import type { Command } from './command.js';

export const QUEUE_FLAGS: readonly FlagSpec[] = [
  { name: 'queue', type: 'string', valueName: 'redis://HOST:PORT', description: 'the Redis of the job queue (BullMQ); also SAE_RX_QUEUE' },
  { name: 'queue-name', type: 'string', valueName: 'NAME', description: 'the BullMQ queue (default sae-rx); workers and submitter must agree' },
];

const FLAGS: readonly FlagSpec[] = [
  ...QUEUE_FLAGS,
  { name: 'concurrency', type: 'string', valueName: 'N', description: 'jobs at once in this process (default 1; start one worker per core)' },
  { name: 'lock-seconds', type: 'string', valueName: 'S', description: "a job's lock; a dead worker's job is taken again after about this long (default 60)" },
];

/** The queue URL from --queue or SAE_RX_QUEUE. */
export function queueUrl(ctx: CliContext, args: ParsedArgs): string | undefined {
  const q = args.flags['queue'];
  if (typeof q === 'string') return q;
  return ctx.io.env['SAE_RX_QUEUE'] || undefined;
}

const positiveNumber = (flag: string, v: string | boolean | undefined, dflt: number): number => {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!(typeof v === 'string' && Number.isFinite(n) && n > 0)) throw new UsageError(`--${flag} needs a positive number, got ${JSON.stringify(v)}`);
  return n;
};

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError(`worker takes no arguments; unexpected ${args.positionals.join(' ')}`);
  const queue = queueUrl(ctx, args);
  if (!queue) throw new UsageError('worker needs --queue redis://HOST:PORT (or SAE_RX_QUEUE)');
  const concurrency = positiveNumber('concurrency', args.flags['concurrency'], 1);
  if (!Number.isInteger(concurrency)) throw new UsageError(`--concurrency needs an integer, got ${concurrency}`);
  const lockMs = positiveNumber('lock-seconds', args.flags['lock-seconds'], 60) * 1000;
  const [{ cliBackend }, { startWorker }] = await Promise.all([import('../backend.js'), import('../../cluster/worker.js')]);
  await cliBackend(ctx);
  const w = await startWorker({
    queue,
    ...(typeof args.flags['queue-name'] === 'string' ? { queueName: args.flags['queue-name'] } : {}),
    concurrency,
    lockMs,
    env: ctx.io.env,
    log: (l) => ctx.info(l),
  });
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      ctx.info(`worker ${w.name}: ${sig}; finishing the running job, then stopping`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  await w.close();
  return 0;
}

export const worker: Command = {
  name: 'worker',
  usage: 'worker --queue URL',
  summary: 'process distributed cache and sweep jobs from a Redis queue (BullMQ) until stopped',
  flags: FLAGS,
  help: () => ({
    usage: 'worker --queue redis://HOST:PORT [--concurrency N] [--lock-seconds S]',
    summary: 'Take jobs submitted by `sae-rx cache|train CONFIG --queue …` and run them. Start any number, on any machines that reach the queue and the store.',
    description:
      'Each job names its store (a shared folder or s3://bucket/prefix); S3 credentials come from the standard AWS variables\n' +
      '(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_S3 for S3-compatible servers).\n' +
      'SAE_RX_STORE_RETRY_WINDOW_MS: how long store errors (503s, dropped connections) are retried (default 120000).\n' +
      'A worker that dies loses nothing committed: its job is taken again by another worker after --lock-seconds.',
    flags: FLAGS,
  }),
  run,
};
