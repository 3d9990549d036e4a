/**
 * Shard jobs start at their own place in the document stream (src/cluster/cache/starts.ts):
 * the same bytes as packing from the first document, whatever order the jobs run in, with
 * each document tokenized once when the jobs run in order; a start that disagrees is an error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import test from 'ava';
import { runShardJob } from '../../src/cluster/cache/jobs.js';
import { cacheKeys } from '../../src/cluster/cache/plan.js';
import { computeShard } from '../../src/cluster/cache/shard.js';
import { nearestStart, publishDatasetEnd, publishStarts, startKey } from '../../src/cluster/cache/starts.js';
import { decodeRunnerConfig, encodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { type TextTokenizer, loadTokenizer } from '../../src/model/tokenizer.js';
import { datasetDocuments } from '../../src/runners/languageModelRunner.js';
import { openStore } from '../../src/store/openStore.js';
import { titled } from '../helpers/skip.js';
import { type Observable, tap } from 'rxjs';
import type { DocumentCursor } from '../../src/sources/documentCursor.js';
import type { Document } from '../../src/stream/Document.js';
import { tempDir } from '../helpers/tempDir.js';
import { TINY_GPT2_DIR, useTinyGpt2 } from '../helpers/tinyGpt2.js';

const TEXT = path.resolve('../shared/data/austen.txt');
const { withModel, model } = useTinyGpt2('shard start');
const NO_TEXT = fs.existsSync(TEXT) ? undefined : `${TEXT} is absent`;
const maybe = NO_TEXT ? test.skip : withModel;

/** 6 shards of 2 store batches of 4 × 32 tokens. */
const cfg = () =>
  decodeRunnerConfig(
    {
      model_name: TINY_GPT2_DIR, hook_point: 'blocks.1.hook_resid_pre', hook_point_layer: 1, dataset_path: TEXT, context_size: 32, d_in: 128,
      store_batch_size: 4, n_batches_in_buffer: 2, training_tokens: 6 * 256, new_cached_activations_path: 'unused',
    },
    'cache_activations',
  );

/** The model's tokenizer, counting the documents it tokenizes. */
function countingTokenizer(): { tok: TextTokenizer; calls: () => number } {
  const inner = loadTokenizer(TINY_GPT2_DIR);
  let n = 0;
  const tok: TextTokenizer = Object.assign(Object.create(inner) as TextTokenizer, {
    encode: (text: string, o?: Parameters<TextTokenizer['encode']>[1]) => (n++, inner.encode(text, o)),
  });
  return { tok, calls: () => n };
}

maybe(titled('shard jobs from published starts: same bytes as packing from the start, in any order; in order each document is tokenized once', NO_TEXT), async (t) => {
  const c = cfg();
  const before = tf.memory().numTensors;
  // the reference: every shard packed from the first document (what each job did before)
  const ref: Uint8Array[] = [];
  const refCount = countingTokenizer();
  for (let i = 0; i < 6; i++) ref.push((await computeShard(c, i, model(), refCount.tok, datasetDocuments(c))).bytes);
  const lastShardDocs = (await nearestStartAfterRun(c)).documents;

  // in order, through the store: each job finds its start published by the one before
  const store = openStore(tempDir(t));
  t.teardown(() => store.close());
  const inOrder = countingTokenizer();
  const lines: string[] = [];
  // the documents the source hands out: a job given documentsFrom seeks to its start's cursor
  let read = 0;
  const counted = (o: Observable<Document>) => o.pipe(tap(() => read++));
  const from = (cursor: DocumentCursor) => counted(datasetDocuments(c, undefined, cursor));
  for (let i = 0; i < 6; i++) await runShardJob(store, i, (o) => computeShard(c, i, model(), inOrder.tok, counted(datasetDocuments(c)), { ...o, documentsFrom: from }), (l) => lines.push(l));
  for (let i = 0; i < 6; i++) t.deepEqual(await store.get(cacheKeys.shard(i)), ref[i], `shard ${i}`);
  // each start carries the source's cursor, and the jobs read each document about once (not all those before their shard again)
  for (let i = 1; i < 6; i++) t.truthy((await nearestStart(store, i)).cursor, `start ${i} has a cursor`);
  t.true(read <= lastShardDocs + 6, `in order, seeking: ${read} documents read, ${lastShardDocs} before shard 6`);
  t.true(lines.filter((l) => l.startsWith('committed shard')).every((l) => /pack \d+ ms from shard (\d+), forward \d+ ms/.test(l)), lines.join('\n'));
  for (let i = 1; i < 6; i++) t.true(lines.some((l) => l.startsWith(`committed shard ${i} `) && l.includes(`from shard ${i},`)), `shard ${i} packed from its own start`);
  // the in-order run tokenizes each document at most once (plus the one that ends shard 5)
  t.true(inOrder.calls() <= lastShardDocs + 1, `in order: ${inOrder.calls()} documents tokenized, ${lastShardDocs} before shard 6`);
  t.true(refCount.calls() > 3 * inOrder.calls(), `replaying from the start tokenized ${refCount.calls()}`);

  // out of order, no starts yet: shard 4 packs from document 0 and publishes starts 1..5
  const store2 = openStore(tempDir(t));
  t.teardown(() => store2.close());
  for (const i of [4, 1, 5, 0, 3, 2]) await runShardJob(store2, i, (o) => computeShard(c, i, model(), inOrder.tok, datasetDocuments(c), o), () => {});
  for (let i = 0; i < 6; i++) t.deepEqual(await store2.get(cacheKeys.shard(i)), ref[i], `shard ${i} out of order`);
  for (let i = 1; i < 6; i++) t.deepEqual(await store2.get(startKey(i)), await store.get(startKey(i)), `start ${i}`);
  t.is(tf.memory().numTensors, before);
});

maybe(titled('a job whose start another worker is still packing waits for it (bounded by its own packing pace) instead of repacking; with no one packing it, it repacks after that bound', NO_TEXT), async (t) => {
  const c = cfg();
  const before = tf.memory().numTensors;
  const ref = [0, 1, 2].map(async (i) => (await computeShard(c, i, model(), loadTokenizer(TINY_GPT2_DIR), datasetDocuments(c))).bytes);
  // two "workers" at once: shard 0 and shard 1 taken together, as the first jobs of two workers
  // are in steady state (job i + 1 taken while job i packs). Shard 1's worker knows its pace.
  const store = openStore(tempDir(t));
  t.teardown(() => store.close());
  const counted = countingTokenizer();
  const lines: string[] = [];
  const job = (i: number, o: Parameters<typeof runShardJob>[4]) =>
    runShardJob(store, i, (co) => computeShard(c, i, model(), counted.tok, datasetDocuments(c), co), (l) => lines.push(`${i}: ${l}`), o);
  let pace: number | undefined;
  await Promise.all([job(0, { onPackPace: (ms) => (pace = ms) }), job(1, { packMsPerShard: 60_000 })]);
  t.true(lines.some((l) => /^1: waited \d+ ms for shard 1's start \(repacking from shard 0/.test(l)), lines.join('\n'));
  t.true(lines.some((l) => l.startsWith('1: committed shard 1 ') && l.includes('from shard 1,')), lines.join('\n'));
  t.true(pace !== undefined && pace > 0, `pace ${pace}`);
  const twoJobs = counted.calls();
  for (const i of [0, 1]) t.deepEqual(await store.get(cacheKeys.shard(i)), await ref[i], `shard ${i}`);

  // no one is packing shard 2's predecessor (its worker died): the wait ends after the bound, and the job repacks from shard 1's start
  const store2 = openStore(tempDir(t));
  t.teardown(() => store2.close());
  await publishStarts(store2, [{ shard: 1, documents: JSON.parse(new TextDecoder().decode(await store.get(startKey(1)))).documents }]);
  const lines2: string[] = [];
  const t0 = Date.now();
  await runShardJob(store2, 2, (co) => computeShard(c, 2, model(), counted.tok, datasetDocuments(c), co), (l) => lines2.push(l), { packMsPerShard: 150 });
  t.true(Date.now() - t0 >= 150, 'waited up to the bound');
  t.false(lines2.some((l) => l.startsWith('waited')), lines2.join('\n'));
  t.true(lines2.some((l) => l.startsWith('committed shard 2 ') && l.includes('from shard 1,')), lines2.join('\n'));
  t.deepEqual(await store2.get(cacheKeys.shard(2)), await ref[2]);
  // the two concurrent jobs tokenized each document once (plus the one that ends shard 1), not shard 0's twice
  const docs2 = (JSON.parse(new TextDecoder().decode(await store.get(startKey(2)))) as { documents: number }).documents;
  t.true(twoJobs <= docs2 + 1, `two concurrent jobs tokenized ${twoJobs} documents; shard 2 starts at document ${docs2}`);
  t.is(tf.memory().numTensors, before);
});

/** Start of shard 6 (after the last): the documents the reference run read. */
async function nearestStartAfterRun(c: ReturnType<typeof cfg>): Promise<{ documents: number }> {
  let last = { documents: 0 };
  await computeShard(c, 5, model(), loadTokenizer(TINY_GPT2_DIR), datasetDocuments(c), { publishStarts: async (s) => void (last = s.at(-1)!) });
  return last;
}

maybe(titled('a start another worker published differently is an error naming the shard; a malformed one names the key', NO_TEXT), async (t) => {
  const store = openStore(tempDir(t));
  t.teardown(() => store.close());
  await publishStarts(store, [{ shard: 2, documents: 17 }]);
  await publishStarts(store, [{ shard: 2, documents: 17 }]);
  t.deepEqual(await nearestStart(store, 3), { shard: 2, documents: 17 });
  t.deepEqual(await nearestStart(store, 1), { shard: 0, documents: 0 });
  await t.throwsAsync(publishStarts(store, [{ shard: 2, documents: 18 }]), { message: /shard 2 starts at document 17 for another worker but at 18 here/ });
  await store.put(startKey(3), '{"documents": -1}');
  await t.throwsAsync(nearestStart(store, 3), { message: /start-3\.json: expected \{"documents"/ });
  // with the source's cursor: kept, compared, and checked when read back
  const cursor = { file: 0, name: 'austen.txt', byte: 1234, line: 40 };
  await publishStarts(store, [{ shard: 4, documents: 30, cursor }]);
  t.deepEqual(await nearestStart(store, 4), { shard: 4, documents: 30, cursor });
  await publishStarts(store, [{ shard: 4, documents: 30, cursor }]);
  await t.throwsAsync(publishStarts(store, [{ shard: 4, documents: 30, cursor: { ...cursor, byte: 1300 } }]), { message: /shard 4 starts at document 30 \(.*"byte":1234.*\) for another worker but at 30 \(.*"byte":1300.*\) here/ });
  await store.put(startKey(5), '{"documents": 31, "cursor": {"file": 0, "name": "austen.txt", "byte": 5}}');
  await t.throwsAsync(nearestStart(store, 5), { message: /start-5\.json \(the start of shard 5\): expected a document cursor/ });
});

maybe(titled('past the dataset\'s end: the job that packs to it publishes where it ends; later shards are empty at once, without reading or waiting', NO_TEXT), async (t) => {
  // a short dataset: about 2.5 shards of text
  const dir = tempDir(t);
  const text = path.join(dir, 'short.txt');
  fs.writeFileSync(text, fs.readFileSync(TEXT, 'utf8').slice(0, 4000));
  const c = decodeRunnerConfig({ ...encodeRunnerConfig(cfg()), dataset_path: text }, 'cache_activations');
  const before = tf.memory().numTensors;
  const tok = loadTokenizer(TINY_GPT2_DIR);
  const ref: Uint8Array[] = [];
  for (let i = 0; i < 6; i++) ref.push((await computeShard(c, i, model(), tok, datasetDocuments(c))).bytes);
  const firstEmpty = ref.findIndex((b) => b.byteLength === 0);
  t.true(firstEmpty >= 2 && firstEmpty <= 4, `first empty shard ${firstEmpty}`);
  for (const order of [[0, 1, 2, 3, 4, 5], [4, 5, 0, 3, 1, 2]]) {
    const store = openStore(tempDir(t));
    t.teardown(() => store.close());
    const computed: number[] = [];
    const lines: string[] = [];
    for (const i of order)
      await runShardJob(store, i, (o) => (computed.push(i), computeShard(c, i, model(), tok, datasetDocuments(c), o)), (l) => lines.push(`${i}: ${l}`));
    for (let i = 0; i < 6; i++) {
      if (i < firstEmpty) t.deepEqual(await store.get(cacheKeys.shard(i)), ref[i], `shard ${i}`);
      else t.is(await store.size(cacheKeys.empty(i)), 0, `shard ${i} empty`);
    }
    t.deepEqual(JSON.parse(new TextDecoder().decode(await store.get(cacheKeys.datasetEnd))), { first_empty: firstEmpty });
    // the first job to pack to the end is the last to compute; every later shard is empty without computing
    const endedBy = computed.findIndex((i) => i >= firstEmpty - 1);
    t.true(computed.slice(endedBy + 1).every((i) => i < firstEmpty), `order ${order}: computed ${computed}\n${lines.join('\n')}`);
    t.true(lines.some((l) => / is empty: the dataset ends before shard \d+$/.test(l)), lines.join('\n'));
  }
  // a job waiting for its start stops waiting when the end is published
  const store = openStore(tempDir(t));
  t.teardown(() => store.close());
  const t0 = Date.now();
  setTimeout(() => void publishDatasetEnd(store, firstEmpty), 200);
  const r = await runShardJob(store, 5, () => Promise.reject(new Error('must not compute')), () => {}, { packMsPerShard: 60_000 });
  t.deepEqual(r, { shard: 5, computed: false, tokens: 0 });
  t.true(Date.now() - t0 < 10_000, `waited ${Date.now() - t0} ms`);
  await t.throwsAsync(publishDatasetEnd(store, firstEmpty + 1), { message: /ends before shard \d+ for another worker but before shard \d+ here/ });
  t.is(tf.memory().numTensors, before);
});
