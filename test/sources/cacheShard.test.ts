import test from 'ava';
import { type CacheShardRows, decodeCacheShard, encodeCacheShard, encodePairwiseShuffled, encodePermutedCacheShard, pairwiseShuffle, permuteShard } from '../../src/sources/cacheShard.js';
import { FileFormatError } from '../../src/errors.js';
import { Rng } from '../../src/stream/rng.js';

function shard(n: number, hooks: number, dIn: number, dOut?: number, seed = 1): CacheShardRows {
  const rng = new Rng(seed);
  const acts = Float32Array.from({ length: n * hooks * dIn }, () => rng.next() - 0.5);
  const base: CacheShardRows = { n, hooks, dIn, acts };
  return dOut === undefined ? base : { ...base, target: { dOut, rows: Float32Array.from({ length: n * dOut }, () => rng.next()) } };
}

test('encodePermutedCacheShard gives the bytes of encodeCacheShard(permuteShard(...)), with a target or not, into a reused buffer or not', (t) => {
  for (const [n, hooks, dIn, dOut] of [[37, 1, 16, undefined], [50, 2, 8, undefined], [41, 1, 12, 20], [1, 1, 3, 5]] as const) {
    const s = shard(n, hooks, dIn, dOut);
    const perm = new Rng(n).permutation(n);
    const want = encodeCacheShard(permuteShard(s, perm));
    const fresh = encodePermutedCacheShard(s, perm);
    t.deepEqual(fresh, want);
    // a buffer from a larger earlier shard is written into, and the result is its view
    const big = new Uint8Array(want.byteLength + 100).fill(7);
    const reused = encodePermutedCacheShard(s, perm, big);
    t.is(reused.buffer, big.buffer);
    t.deepEqual(reused, want);
    // a buffer too small is left alone
    const small = new Uint8Array(8);
    const grown = encodePermutedCacheShard(s, perm, small);
    t.not(grown.buffer, small.buffer);
    t.deepEqual(grown, want);
    const back = decodeCacheShard(reused, 'test');
    t.deepEqual(back.acts, permuteShard(s, perm).acts);
  }
});

test('encodePairwiseShuffled gives the bytes of pairwiseShuffle\'s two shards encoded, with a target or not, shards of unequal sizes too', (t) => {
  for (const [na, nb, hooks, dIn, dOut] of [[37, 37, 1, 16, undefined], [50, 9, 2, 8, undefined], [41, 41, 1, 12, 20], [1, 6, 1, 3, 5]] as const) {
    const a = shard(na, hooks, dIn, dOut, 2);
    const b = shard(nb, hooks, dIn, dOut, 3);
    const perm = new Rng(na + nb).permutation(na + nb);
    const [ma, mb] = pairwiseShuffle(a, b, perm, 'test');
    const [ba, bb] = encodePairwiseShuffled(a, b, perm, 'test');
    t.deepEqual(ba, encodeCacheShard(ma));
    t.deepEqual(bb, encodeCacheShard(mb));
    // the inputs are untouched, and a decoded shard owns its rows (not a view of the bytes)
    t.deepEqual(a.acts, shard(na, hooks, dIn, dOut, 2).acts);
    const back = decodeCacheShard(ba, 'test');
    ba.fill(0);
    t.deepEqual(back.acts, ma.acts);
  }
  const err = t.throws(() => encodePairwiseShuffled(shard(4, 1, 8), shard(4, 1, 6), new Rng(1).permutation(8), 'cache/x'), { instanceOf: FileFormatError });
  t.regex(err!.message, /^cache\/x: two shards of one cache differ in shape/);
  t.throws(() => encodePairwiseShuffled(shard(4, 1, 8), shard(4, 1, 8), new Rng(1).permutation(7), 'cache/x'), { instanceOf: FileFormatError, message: /permutation of 7 rows for shards of 4 \+ 4/ });
});
