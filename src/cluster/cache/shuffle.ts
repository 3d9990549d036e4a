/**
 * SAELens's on-disk shuffle passes of a cache, over the store. Every pass of the single-process
 * runner after writing shard i only touches shards before i, so running all passes after all
 * shards exist, each after the earlier passes on its two shards, gives the same bytes. Pass k
 * (two shards drawn at random, rows concatenated, permuted, split back) reads the versions its
 * shards have before it — the outputs of the last earlier pass on each, else the shard itself —
 * writes its two outputs under keys of its own, then its done marker. So a pass is idempotent
 * (one that died is run again, same bytes), every version is named by the pass list alone, and
 * its permutation starts at a known draw of the generator (skipped to in O(1)).
 *
 * Passes on disjoint shards are independent: `shuffleWaves` groups them into waves, each after
 * the one before, whose passes can run at once on several workers (the shuffle job hands a
 * wave's passes out as child jobs). A version is deleted once the pass that read it is done;
 * the shards' first versions stay until finalize (a lost store state restarts from them).
 */
import { decodeCacheShard, encodePairwiseShuffled } from '../../sources/cacheShard.js';
import type { Store } from '../../store/Store.js';
import { type CachePlan, cacheKeys } from './plan.js';
import { permutationDraws, rngAfterDraws } from './replay.js';
import type { Rng } from '../../stream/rng.js';

export interface ShuffleSettings {
  readonly seed: number;
  readonly shuffle_every_n_buffers: number;
  readonly n_shuffles_with_last_section: number;
  readonly n_shuffles_in_entire_dir: number;
  readonly n_shuffles_final: number;
}

/** One pairwise pass: shards i and j, with the generator's draw count before it. */
export interface PairPass {
  readonly i: number;
  readonly j: number;
  /** Draws of the pair generator before this pass's permutation. */
  readonly drawsBeforePermutation: number;
}

/**
 * The runner's passes in order for shards of `shardTokens` rows, with where each one's
 * permutation starts in the pair generator (seed + 1).
 */
export function shufflePasses(s: ShuffleSettings, shardTokens: readonly number[]): PairPass[] {
  const n = shardTokens.length;
  const passes: PairPass[] = [];
  let draws = 0;
  let rng: Rng = rngAfterDraws(s.seed + 1, 0);
  const next = () => {
    draws++;
    return rng.next();
  };
  const randInt = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo));
  const pair = (lo: number, hi: number) => {
    if (!(lo < hi - 1)) return; // as the runner: fewer than two shards, no pass and no draw
    const i = randInt(lo, hi);
    let j = randInt(lo, hi);
    while (j === i) j = randInt(lo, hi);
    passes.push({ i, j, drawsBeforePermutation: draws });
    draws += permutationDraws(shardTokens[i]! + shardTokens[j]!);
    rng = rngAfterDraws(s.seed + 1, draws);
  };
  for (let i = 0; i < n; i++) {
    if (i % s.shuffle_every_n_buffers === 0 && i > 0) {
      for (let k = 0; k < s.n_shuffles_with_last_section; k++) pair(i - s.shuffle_every_n_buffers, i);
      for (let k = 0; k < s.n_shuffles_in_entire_dir; k++) pair(0, i);
    }
  }
  if (n > 1) for (let k = 0; k < s.n_shuffles_final; k++) pair(0, n);
  return passes;
}

/**
 * The passes in waves: a pass's wave is one after the latest wave of an earlier pass on either
 * of its shards, so the passes of one wave touch disjoint shards and depend only on earlier
 * waves. Each wave lists pass indices in order.
 */
export function shuffleWaves(passes: readonly PairPass[]): number[][] {
  const last = new Map<number, number>(); // shard → wave of the last pass on it
  const waves: number[][] = [];
  passes.forEach((p, k) => {
    const w = Math.max(last.get(p.i) ?? -1, last.get(p.j) ?? -1) + 1;
    (waves[w] ??= []).push(k);
    last.set(p.i, w);
    last.set(p.j, w);
  });
  return waves;
}

/**
 * The store keys of the shards' versions, in one sweep over the passes: `inputs[k]`, the two
 * versions pass k reads (the outputs of the last earlier pass on each shard, else the shard
 * itself), and `latest(i)`, shard i's version after all passes.
 */
export function passVersions(passes: readonly PairPass[]): { inputs: Array<[string, string]>; latest: (shard: number) => string } {
  const last = new Map<number, number>(); // shard → the last pass on it so far
  const key = (shard: number) => (last.has(shard) ? cacheKeys.shuffled(last.get(shard)!, shard) : cacheKeys.shard(shard));
  const inputs = passes.map((p, k): [string, string] => {
    const io: [string, string] = [key(p.i), key(p.j)];
    last.set(p.i, k);
    last.set(p.j, k);
    return io;
  });
  return { inputs, latest: key };
}

/**
 * Runs pass k unless its marker says it is done: reads its two input versions, writes its
 * outputs, then the marker (`versions`: passVersions of the same passes, when already at hand).
 */
export async function runShufflePass(store: Store, s: ShuffleSettings, passes: readonly PairPass[], k: number, versions = passVersions(passes)): Promise<boolean> {
  if ((await store.size(cacheKeys.passDone(k))) !== undefined) return false;
  const p = passes[k]!;
  const [ki, kj] = versions.inputs[k]!;
  const a = decodeCacheShard(await store.get(ki), ki);
  const b = decodeCacheShard(await store.get(kj), kj);
  const rng = rngAfterDraws(s.seed + 1, p.drawsBeforePermutation);
  // the runner's pairwise shuffle (a transcoder cache's target rows move with their rows)
  const [ba, bb] = encodePairwiseShuffled(a, b, rng.permutation(a.n + b.n), store.url);
  await store.put(cacheKeys.shuffled(k, p.i), ba);
  await store.put(cacheKeys.shuffled(k, p.j), bb);
  await store.put(cacheKeys.passDone(k), '');
  return true;
}

/** Whether each pass is done (its marker is in the store). */
async function passesDone(store: Store, n: number): Promise<boolean[]> {
  const keys = new Set(await store.list(cacheKeys.passDonePrefix));
  return Array.from({ length: n }, (_, k) => keys.has(cacheKeys.passDone(k)));
}

/**
 * Runs (or continues) every pass, wave by wave. `runWave` (a worker's: the passes as child
 * jobs, given the shard sizes the pass list follows from) takes a wave's passes not done yet
 * when there are several, and answers 'waiting' (this job is parked until they finish: return
 * now, it runs again then) or 'done'; without it, or for a single pass, they run here in
 * order. Versions a finished wave consumed are deleted.
 */
export async function runShufflePasses(
  store: Store,
  s: ShuffleSettings,
  shardTokens: readonly number[],
  o: { onPass?: (done: number, total: number) => void; yieldEvery?: () => Promise<void>; runWave?: (passes: number[], shardTokens: readonly number[]) => Promise<'waiting' | 'done'> } = {},
): Promise<{ passes: number; waiting: boolean }> {
  const passes = shufflePasses(s, shardTokens);
  const waves = shuffleWaves(passes);
  const versions = passVersions(passes);
  let done = await passesDone(store, passes.length);
  for (const wave of waves) {
    let todo = wave.filter((k) => !done[k]);
    if (todo.length > 1 && o.runWave) {
      if ((await o.runWave(todo, shardTokens)) === 'waiting') return { passes: passes.length, waiting: true };
      done = await passesDone(store, passes.length);
      todo = wave.filter((k) => !done[k]);
    }
    for (const k of todo) {
      await runShufflePass(store, s, passes, k, versions);
      done[k] = true;
      await o.yieldEvery?.();
    }
    // the inputs this wave read are superseded (a shard's first version stays until finalize)
    const consumed = wave.flatMap((k) => versions.inputs[k]!).filter((key) => key.startsWith('_work/op-'));
    await store.delete(consumed);
    o.onPass?.(done.filter(Boolean).length, passes.length);
  }
  return { passes: passes.length, waiting: false };
}

/** The key of every shard's last version, once all passes are done. */
export function finalVersions(s: ShuffleSettings, shardTokens: readonly number[]): string[] {
  const { latest } = passVersions(shufflePasses(s, shardTokens));
  return shardTokens.map((_, i) => latest(i));
}

/** Number of passes the runner makes for these shards (the manifest's `pairwise_passes`). */
export function countPasses(s: ShuffleSettings, shardTokens: readonly number[]): number {
  return shufflePasses(s, shardTokens).length;
}

export type { CachePlan };
