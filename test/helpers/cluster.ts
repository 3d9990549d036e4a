/**
 * The set-up every multi-process cluster test shares: the tiny GPT-2 and Austen from ../shared,
 * a real redis-server, s3rver (optionally behind the fault proxy), a temp folder, and the
 * `sae-rx worker` processes the test starts, all stopped after the file's tests. `useCluster`
 * registers the hooks and says why the tests skip when a part is missing.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type TestRedis, redisUnavailable, startRedis } from './redis.js';
import { type FaultProxy, type TestS3, startFaultProxy, startS3 } from './s3.js';
import { type WorkerProcess, spawnWorker } from './workers.js';

export const CLUSTER_MODEL_DIR = path.resolve('../shared/models/tiny-gpt2-sotu');
export const CLUSTER_TEXT = path.resolve('../shared/data/austen.txt');

/** The tiny GPT-2's layer-1 residual stream over Austen: what every cluster test caches or trains on. */
export const CLUSTER_STREAM = {
  model_name: CLUSTER_MODEL_DIR, hook_point: 'blocks.1.hook_resid_pre', hook_point_layer: 1, dataset_path: CLUSTER_TEXT, context_size: 32, d_in: 128,
  store_batch_size: 4, n_batches_in_buffer: 2,
} as const;

export interface ClusterOptions {
  /** For the skip message ("distributed caching"). */
  readonly what: string;
  /** Temp folder prefix. */
  readonly prefix: string;
  readonly buckets: readonly string[];
  /** Start the fault proxy in front of s3rver. */
  readonly proxy?: boolean;
  /** Another reason to skip (an opt-in), checked after the missing parts. */
  readonly optIn?: string;
}

export interface Cluster {
  /** test.serial, or test.skip when a part is missing (said once on the console). */
  readonly maybe: typeof test.serial | typeof test.skip;
  readonly skip: string | undefined;
  tmp(): string;
  redis(): TestRedis;
  s3(): TestS3;
  proxy(): FaultProxy;
  /** A worker process on the test's Redis, killed (-9) after the file's tests if still running. */
  worker(env: Record<string, string>, extra?: readonly string[]): WorkerProcess;
  readonly workers: readonly WorkerProcess[];
  /** Writes `value` as JSON under the temp folder; returns its path. */
  writeJson(name: string, value: unknown): string;
}

export function useCluster(o: ClusterOptions): Cluster {
  const haveModel = fs.existsSync(path.join(CLUSTER_MODEL_DIR, 'model.safetensors')) && fs.existsSync(CLUSTER_TEXT);
  const skip = redisUnavailable() ?? (haveModel ? o.optIn : `${CLUSTER_MODEL_DIR} or ${CLUSTER_TEXT} is absent`);
  if (skip) console.log(`skipping ${o.what} tests: ${skip}`);
  let tmp: string | undefined;
  let redis: TestRedis | undefined;
  let s3: TestS3 | undefined;
  let proxy: FaultProxy | undefined;
  const workers: WorkerProcess[] = [];
  test.before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), o.prefix));
    if (skip) return;
    redis = await startRedis();
    s3 = await startS3(o.buckets);
    if (o.proxy) proxy = await startFaultProxy(s3.endpoint);
  });
  test.after.always(async () => {
    for (const w of workers) await w.kill9();
    await proxy?.close();
    await redis?.close();
    await s3?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });
  return {
    maybe: skip ? test.skip : test.serial,
    skip,
    tmp: () => tmp!,
    redis: () => redis!,
    s3: () => s3!,
    proxy: () => proxy!,
    worker: (env, extra = []) => {
      const w = spawnWorker(redis!.url, env, extra);
      workers.push(w);
      return w;
    },
    workers,
    writeJson: (name, value) => {
      const file = path.join(tmp!, name);
      fs.writeFileSync(file, JSON.stringify(value));
      return file;
    },
  };
}

/** A cache config of `shards` shards of 256 tokens with shuffle passes on, written to the cluster's temp folder. */
export function cacheConfig(c: Cluster, name: string, out: string, shards: number): string {
  return c.writeJson(name, {
    ...CLUSTER_STREAM, training_tokens: shards * 256, new_cached_activations_path: out,
    shuffle_every_n_buffers: 2, n_shuffles_with_last_section: 1, n_shuffles_in_entire_dir: 1, n_shuffles_final: 3,
  });
}

/** Lines of the workers' output matching `re`. */
export function countLines(workers: readonly WorkerProcess[], re: RegExp): number {
  return workers.flatMap((w) => w.output().split('\n')).filter((l) => re.test(l)).length;
}
