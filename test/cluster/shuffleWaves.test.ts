/**
 * The shuffle passes in waves (src/cluster/cache/shuffle.ts), in process: handed out and run
 * in any order within a wave, or a pass dying between its outputs and its marker, the final
 * versions are the bytes of the passes run one by one; consumed versions are deleted.
 */
import test from 'ava';
import { cacheKeys } from '../../src/cluster/cache/plan.js';
import { finalVersions, runShufflePass, runShufflePasses, shufflePasses, shuffleWaves } from '../../src/cluster/cache/shuffle.js';
import { encodeCacheShard } from '../../src/sources/cacheShard.js';
import { openStore } from '../../src/store/openStore.js';
import type { Store } from '../../src/store/Store.js';
import { Rng } from '../../src/stream/rng.js';
import { tempDir } from '../helpers/tempDir.js';

const S = { seed: 11, shuffle_every_n_buffers: 3, n_shuffles_with_last_section: 2, n_shuffles_in_entire_dir: 2, n_shuffles_final: 12 };
const SIZES = [20, 20, 20, 20, 20, 20, 20, 13];

async function seeded(store: Store): Promise<void> {
  const rng = new Rng(5);
  for (let i = 0; i < SIZES.length; i++) {
    const n = SIZES[i]!;
    await store.put(cacheKeys.shard(i), encodeCacheShard({ n, hooks: 1, dIn: 4, acts: Float32Array.from({ length: n * 4 }, () => rng.next()) }));
  }
}

const finals = async (store: Store) => Promise.all(finalVersions(S, SIZES).map((k) => store.get(k)));

test('waves handed out in any order, or a pass that died before its marker, give the bytes of the passes one by one', async (t) => {
  const passes = shufflePasses(S, SIZES);
  const waves = shuffleWaves(passes);
  t.true(waves.some((w) => w.length > 1), `${passes.length} passes in ${waves.length} waves`);

  const plain = openStore(tempDir(t));
  await seeded(plain);
  t.deepEqual(await runShufflePasses(plain, S, SIZES), { passes: passes.length, waiting: false });
  const want = await finals(plain);

  // handed out: each wave's passes run in reverse order by "another worker", then 'done'
  const waved = openStore(tempDir(t));
  await seeded(waved);
  let handed = 0;
  const runWave = async (ks: number[]) => {
    handed += ks.length;
    for (const k of [...ks].reverse()) await runShufflePass(waved, S, passes, k);
    return 'done' as const;
  };
  t.deepEqual(await runShufflePasses(waved, S, SIZES, { runWave }), { passes: passes.length, waiting: false });
  t.true(handed > 0);
  t.deepEqual(await finals(waved), want);
  // only the shards' first versions, the last versions and the markers are left
  const left = (await waved.list('_work/')).filter((k) => k.startsWith('_work/op-'));
  t.deepEqual(left.sort(), finalVersions(S, SIZES).filter((k) => k.startsWith('_work/op-')).sort());

  // parked: the first call hands out the first wave of several passes and stops; the passes then run; the job, run again, goes on
  const parked = openStore(tempDir(t));
  await seeded(parked);
  let calls = 0;
  const first = await runShufflePasses(parked, S, SIZES, { runWave: async () => (calls++, 'waiting') });
  t.deepEqual(first, { passes: passes.length, waiting: true });
  t.is(calls, 1);
  // a pass that died after one output and before its marker, then the whole wave, then the job again
  const w0 = waves.find((w) => w.length > 1)!;
  const p = passes[w0[0]!]!;
  await parked.put(cacheKeys.shuffled(w0[0]!, p.i), new Uint8Array([1, 2, 3]));
  for (const k of waves[0]!) await runShufflePass(parked, S, passes, k);
  t.deepEqual(await runShufflePasses(parked, S, SIZES), { passes: passes.length, waiting: false });
  t.deepEqual(await finals(parked), want);
  // a pass already done is not run again
  t.false(await runShufflePass(parked, S, passes, 0));
});
