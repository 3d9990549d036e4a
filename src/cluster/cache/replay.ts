/**
 * The single-process cache runner draws from two seeded generators as it goes: one permutation
 * of every buffer (seed), and the pairwise shuffle passes (seed + 1). A job that produces one
 * shard, or resumes the shuffle passes, needs the generator as it was at that point. The
 * project's generator (stream/rng.ts, mulberry32) advances its 32-bit state by a constant per
 * draw, so the state after n draws is `seed + n·0x6d2b79f5 (mod 2³²)`: skipping is O(1).
 * A test checks this against drawing one by one.
 */
import { Rng } from '../../stream/rng.js';

const MULBERRY_STEP = 0x6d2b79f5;

/** The generator seeded with `seed` after `draws` calls of next(). */
export function rngAfterDraws(seed: number, draws: number): Rng {
  // draws × step mod 2³²: only draws mod 2³² matters, and imul gives the low 32 bits of the product
  const step = Math.imul(draws % 2 ** 32 >>> 0, MULBERRY_STEP) >>> 0;
  return new Rng(((seed >>> 0) + step) >>> 0);
}

/** Draws a Fisher–Yates permutation of n takes (Rng.permutation). */
export const permutationDraws = (n: number): number => Math.max(0, n - 1);
