import test from 'ava';
import { rngAfterDraws, permutationDraws } from '../../src/cluster/cache/replay.js';
import { passVersions, shufflePasses, shuffleWaves } from '../../src/cluster/cache/shuffle.js';
import { cacheKeys, cachePlan } from '../../src/cluster/cache/plan.js';
import { Rng } from '../../src/stream/rng.js';

test('rngAfterDraws(seed, n) continues exactly where n draws of Rng(seed) leave off', (t) => {
  for (const seed of [0, 42, 43, 2 ** 31 + 5]) {
    const r = new Rng(seed);
    for (let n = 0; n < 300; n++) {
      const skipped = rngAfterDraws(seed, n);
      t.is(skipped.next(), r.next(), `seed ${seed}, after ${n} draws`);
    }
  }
  // after whole permutations, as a shard job skips the buffers before it
  const r = new Rng(7);
  r.permutation(1000);
  r.permutation(1000);
  t.deepEqual([...rngAfterDraws(7, 2 * permutationDraws(1000)).permutation(50)], [...r.permutation(50)]);
});

test('shufflePasses follows the runner: passes after shard i touch only earlier shards, final passes touch all', (t) => {
  const s = { seed: 42, shuffle_every_n_buffers: 2, n_shuffles_with_last_section: 1, n_shuffles_in_entire_dir: 1, n_shuffles_final: 3 };
  const passes = shufflePasses(s, [10, 10, 10, 10, 10]);
  // after shard 2: 1 + 1 passes among [0, 2); after shard 4: 1 among [2, 4) + 1 among [0, 4); 3 final among [0, 5)
  t.is(passes.length, 2 + 2 + 3);
  for (const p of passes.slice(0, 2)) t.true(p.i < 2 && p.j < 2 && p.i !== p.j);
  for (const p of passes.slice(2, 4)) t.true(p.i < 4 && p.j < 4 && p.i !== p.j);
  t.true(passes.every((p) => p.i !== p.j));
  // one shard: no pass and no draw, as the runner
  t.deepEqual(shufflePasses(s, [10]), []);
  t.deepEqual(cachePlan({ n_batches_in_buffer: 2, store_batch_size: 4, context_size: 32, training_tokens: 1000, d_in: 8, shuffle_every_n_buffers: 2 }), { nShards: 4, tokensPerShard: 256, batchesPerShard: 2 });
  t.throws(() => cachePlan({ n_batches_in_buffer: 0, store_batch_size: 4, context_size: 32, training_tokens: 1000, d_in: 8, shuffle_every_n_buffers: 2 }), { message: /n_batches_in_buffer/ });
});

test('shuffleWaves: each pass once, the passes of a wave on disjoint shards, each after every earlier pass on its shards', (t) => {
  const s = { seed: 3, shuffle_every_n_buffers: 10, n_shuffles_with_last_section: 10, n_shuffles_in_entire_dir: 10, n_shuffles_final: 100 };
  const passes = shufflePasses(s, Array.from({ length: 64 }, () => 100));
  const waves = shuffleWaves(passes);
  t.deepEqual(waves.flat().sort((a, b) => a - b), passes.map((_, k) => k));
  const waveOf = new Map(waves.flatMap((w, n) => w.map((k) => [k, n] as const)));
  for (const w of waves) {
    const shards = w.flatMap((k) => [passes[k]!.i, passes[k]!.j]);
    t.is(new Set(shards).size, shards.length, 'disjoint');
  }
  passes.forEach((p, k) => {
    for (let q = 0; q < k; q++) if ([passes[q]!.i, passes[q]!.j].some((x) => x === p.i || x === p.j)) t.true(waveOf.get(q)! < waveOf.get(k)!, `pass ${q} before ${k}`);
  });
  t.true(waves.length < passes.length / 2, `${passes.length} passes in ${waves.length} waves`);
  t.log(`${passes.length} passes in ${waves.length} waves (largest ${Math.max(...waves.map((w) => w.length))})`);
  // the version a pass reads is the last earlier pass's output on that shard, else the shard
  const { inputs } = passVersions(passes);
  t.is(inputs[0]![0], cacheKeys.shard(passes[0]!.i));
  const k = passes.findIndex((p, n) => n > 0 && [passes[0]!.i, passes[0]!.j].includes(p.i));
  let prev = -1;
  for (let n = 0; n < k; n++) if (passes[n]!.i === passes[k]!.i || passes[n]!.j === passes[k]!.i) prev = n;
  t.is(inputs[k]![0], cacheKeys.shuffled(prev, passes[k]!.i));
});
