/**
 * `sae-rx cache CONFIG --queue redis://… [--store DIR|s3://…]`: submit the cache run as jobs
 * and show its progress until manifest.json is written (see cluster/cache/submit.ts).
 */
import type { CacheActivationsRunnerConfig } from '../../config/cacheActivationsRunnerConfig.js';
import { submitCache } from '../../cluster/cache/submit.js';
import { openStore } from '../../store/openStore.js';
import type { ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { stage } from '../errors.js';
import { queueUrl } from './worker.js';

export async function runDistributedCache(ctx: CliContext, args: ParsedArgs, config: CacheActivationsRunnerConfig): Promise<number> {
  const where = typeof args.flags['store'] === 'string' ? args.flags['store'] : config.new_cached_activations_path;
  const store = openStore(where, { cwd: ctx.io.cwd, env: ctx.io.env });
  let last = '';
  try {
    const m = await stage('distributed caching', () =>
      submitCache(config, {
        queue: queueUrl(ctx, args)!,
        ...(typeof args.flags['queue-name'] === 'string' ? { queueName: args.flags['queue-name'] } : {}),
        store,
        log: (l) => ctx.info(l),
        onProgress: (p) => {
          const line =
            p.phase === 'shards'
              ? `shards ${p.shardsDone}/${p.shards}, ${Math.round(p.tokensPerSecond)} tokens/s, workers seen ${p.workersSeen}`
              : p.phase === 'done'
                ? `all ${p.shards} shards committed; manifest.json written`
                : `shards ${p.shardsDone}/${p.shards}; ${p.phase === 'shuffle' ? 'shuffle passes' : 'finalizing'}, workers seen ${p.workersSeen}`;
          if (line !== last && ctx.flags.progress) ctx.info(line);
          last = line;
        },
      }),
    );
    ctx.emit(
      { type: 'result', command: 'cache', path: store.url, shards: m.n_shards, tokens: m.total_tokens, distributed: true },
      `activations: ${store.url} (${m.n_shards} shards, ${m.total_tokens} tokens)`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
