/**
 * The Redis connection of the job queue (BullMQ on ioredis) from a `redis://[user:pass@]host:port[/db]`
 * (or `rediss://`) URL. Connections retry forever with a capped backoff, so a Redis restart is
 * ridden out: BullMQ's commands wait for the reconnection (maxRetriesPerRequest null). The
 * password never reaches a log line: `describeQueue` prints the URL without it.
 */
import { Redis } from 'ioredis';
import { ConfigError } from '../errors.js';

/** The queue all sae-rx jobs go through, unless `--queue-name` says otherwise. */
export const DEFAULT_QUEUE_NAME = 'sae-rx';

export interface QueueSettings {
  readonly url: string;
  readonly name: string;
}

/** Checks a queue URL (ConfigError naming the flag when it is not redis:// or rediss://). */
export function parseQueueUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`--queue: ${JSON.stringify(url)} is not a URL; expected redis://host:port`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ConfigError(`--queue: ${u.protocol}// is not a Redis URL; expected redis://host:port or rediss://host:port`);
  return u;
}

/** The URL without user and password (for messages). */
export function describeQueue(url: string): string {
  const u = parseQueueUrl(url);
  return `${u.protocol}//${u.hostname}:${u.port || 6379}${u.pathname !== '/' ? u.pathname : ''}`;
}

/** A new ioredis connection for BullMQ. The caller closes it (`quit`/`disconnect`). */
export function redisConnection(url: string, o: { onError?: (e: Error) => void } = {}): Redis {
  parseQueueUrl(url);
  const r = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(2000, 50 * 2 ** Math.min(times, 6)),
    lazyConnect: false,
  });
  // without a listener ioredis prints every failed reconnect; the owner decides what to say
  r.on('error', (e: Error) => o.onError?.(e));
  return r;
}

/** Job options of every job of a run: retried with backoff, kept when complete (the progress view reads them). */
export function runJobOptions(attempts = 5) {
  return { attempts, backoff: { type: 'exponential', delay: 2000 }, failParentOnFailure: true, removeOnComplete: false } as const;
}
