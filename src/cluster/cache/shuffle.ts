/**
 * SAELens's on-disk shuffle passes of a cache, as one resumable job over the store. Every pass
 * of the single-process runner after writing shard i only touches shards before i, so running
 * all passes, in the runner's order, after all shards exist gives the same bytes. Each pass
 * (two shards drawn at random, rows concatenated, permuted, split back) writes the two new
 * versions under fresh keys, then a small state object naming the current version of every
 * shard and the passes done: a worker that dies mid-pass leaves the previous state valid, and
 * the job taken again continues from it (the generator is skipped to the right draw, O(1)).
 */
import { decodeCacheShard, encodeCacheShard, pairwiseShuffle } from '../../sources/cacheShard.js';
import type { Store } from '../../store/Store.js';
import { StoreNotFoundError } from '../../store/Store.js';
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

export interface ShuffleState {
  /** Passes applied. */
  done: number;
  /** Store key of every shard's current version. */
  current: string[];
}

export async function readShuffleState(store: Store): Promise<ShuffleState | undefined> {
  try {
    return JSON.parse(new TextDecoder().decode(await store.get(cacheKeys.shuffleState))) as ShuffleState;
  } catch (e) {
    if (e instanceof StoreNotFoundError) return undefined;
    throw e;
  }
}

/** Runs (or continues) every pass; returns the state after the last one. `onPass` reports progress. */
export async function runShufflePasses(
  store: Store,
  s: ShuffleSettings,
  shardTokens: readonly number[],
  o: { onPass?: (done: number, total: number) => void; yieldEvery?: () => Promise<void> } = {},
): Promise<ShuffleState> {
  const passes = shufflePasses(s, shardTokens);
  const state: ShuffleState = (await readShuffleState(store)) ?? { done: 0, current: shardTokens.map((_, i) => cacheKeys.shard(i)) };
  for (let k = state.done; k < passes.length; k++) {
    const p = passes[k]!;
    const a = decodeCacheShard(await store.get(state.current[p.i]!), state.current[p.i]!);
    const b = decodeCacheShard(await store.get(state.current[p.j]!), state.current[p.j]!);
    const rng = rngAfterDraws(s.seed + 1, p.drawsBeforePermutation);
    // the runner's pairwise shuffle (a transcoder cache's target rows move with their rows)
    const [ma, mb] = pairwiseShuffle(a, b, rng.permutation(a.n + b.n), store.url);
    const ki = cacheKeys.shuffled(k, p.i);
    const kj = cacheKeys.shuffled(k, p.j);
    await store.put(ki, encodeCacheShard(ma));
    await store.put(kj, encodeCacheShard(mb));
    const superseded = [state.current[p.i]!, state.current[p.j]!].filter((key) => key.startsWith('_work/op-'));
    state.current[p.i] = ki;
    state.current[p.j] = kj;
    state.done = k + 1;
    await store.put(cacheKeys.shuffleState, JSON.stringify(state));
    // versions no state names any more (the first versions stay until the end: a lost state restarts from them)
    await store.delete(superseded);
    o.onPass?.(state.done, passes.length);
    await o.yieldEvery?.();
  }
  return state;
}

/** Number of passes the runner makes for these shards (the manifest's `pairwise_passes`). */
export function countPasses(s: ShuffleSettings, shardTokens: readonly number[]): number {
  return shufflePasses(s, shardTokens).length;
}

export type { CachePlan };
