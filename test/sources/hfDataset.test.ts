import test from 'ava';
import { existsSync, mkdirSync, promises as fsp, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lastValueFrom, take, toArray } from 'rxjs';
import { ConfigError, FileFormatError, HubError } from '../../src/errors.js';
import { documentEnd } from '../../src/sources/documentCursor.js';
import { hubConfig, type HubConfig } from '../../src/hub/index.js';
import type { Document } from '../../src/stream/Document.js';
import { hfDataset, parquetFileInSplit, selectSplitFiles } from '../../src/sources/hfDataset.js';
import { FakeHub } from '../helpers/fakeHub.js';
import { writeParquet } from '../helpers/parquetFixtures.js';

let tmp: string;
let hub: FakeHub;

const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => [from + i, from + i + 1]);

test.before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sae-rx-hfds-'));
  // a tokenized dataset in the hub's usual layout
  const tok = path.join(tmp, 'tok');
  mkdirSync(path.join(tok, 'data'), { recursive: true });
  writeFileSync(path.join(tok, 'README.md'), '---\nlicense: mit\n---\n');
  await writeParquet(path.join(tok, 'data', 'train-00000-of-00002.parquet'), { tokens: rows(0, 5), rowGroupSize: 2 });
  await writeParquet(path.join(tok, 'data', 'train-00001-of-00002.parquet'), { tokens: rows(100, 4), rowGroupSize: 2 });
  await writeParquet(path.join(tok, 'data', 'test-00000-of-00001.parquet'), { tokens: rows(900, 2) });
  // a text dataset without parquet at main, converted on refs/convert/parquet
  const raw = path.join(tmp, 'raw');
  mkdirSync(raw);
  writeFileSync(path.join(raw, 'train.jsonl'), '{"text": "a"}\n');
  const conv = path.join(tmp, 'conv');
  mkdirSync(path.join(conv, 'default', 'train'), { recursive: true });
  await writeParquet(path.join(conv, 'default', 'train', '0000.parquet'), { text: ['hello', 'world'], ids: [1, 2] });
  // single-split dataset with input_ids, files named without a split
  const one = path.join(tmp, 'one');
  mkdirSync(one);
  await writeParquet(path.join(one, 'shard.parquet'), { tokens: rows(7, 3), tokensColumn: 'input_ids' });
  hub = await FakeHub.start({
    'datasets/owner/tok': tok,
    'datasets/owner/raw': { dir: raw, revisions: { 'refs/convert/parquet': conv } },
    'datasets/owner/one': one,
  });
});
test.after.always(async () => {
  await hub?.close();
  await fsp.rm(tmp, { recursive: true, force: true });
});

let n = 0;
function cfg(extra: Partial<HubConfig> = {}): HubConfig {
  return hubConfig({ endpoint: hub.url, cacheDir: path.join(tmp, `cache-${n++}`), hfHome: tmp, token: undefined, retryBaseMs: 1, ...extra }, {});
}
const show = (docs: Document[]) => docs.map((d) => ('tokens' in d ? Array.from(d.tokens).join(',') : d.text));
const all = (o: ReturnType<typeof hfDataset>) => lastValueFrom(o.pipe(toArray()));

test.serial('reads the train split row group by row group, pinned to one commit, then offline from the cache', async (t) => {
  const c = cfg();
  const docs = await all(hfDataset({ path: 'owner/tok', hub: c }));
  t.deepEqual(show(docs), [...rows(0, 5), ...rows(100, 4)].map((r) => r.join(',')));
  t.true(docs.every((d) => 'tokens' in d && d.tokens instanceof Int32Array));
  const sha = hub.commit('datasets/owner/tok');
  const parquetGets = hub.requests.filter((r) => r.url.includes('/resolve/') && r.url.endsWith('.parquet'));
  t.true(parquetGets.length > 0 && parquetGets.every((r) => r.url.includes(sha)), 'every file read at the pinned commit');
  t.deepEqual(show(await all(hfDataset({ path: 'owner/tok', split: 'test', hub: c }))), ['900,901', '901,902']);

  hub.clearLog();
  const off = { ...c, offline: true };
  t.deepEqual(show(await all(hfDataset({ path: 'owner/tok', hub: off }))), show(docs));
  t.deepEqual(hub.requests, [], 'offline makes no request');
});

test.serial('streaming (download: false) reads row groups over range requests and caches nothing', async (t) => {
  const c = cfg();
  hub.clearLog();
  const docs = await all(hfDataset({ path: 'owner/tok', download: false, hub: c }));
  t.deepEqual(show(docs), [...rows(0, 5), ...rows(100, 4)].map((r) => r.join(',')));
  const gets = hub.requests.filter((r) => r.url.endsWith('.parquet'));
  t.true(gets.length > 0 && gets.every((r) => r.range !== undefined), 'every parquet read is a range read');
  t.false(existsSync(path.join(c.cacheDir, 'datasets--owner--tok', 'blobs')));
  await t.throwsAsync(all(hfDataset({ path: 'owner/tok', download: false, hub: { ...c, offline: true } })), {
    instanceOf: HubError,
    message: /streaming \(download: false\) needs the network but offline mode is on/,
  });
  // transient failures during range reads are retried
  hub.failNext(2, { status: 503 }, /\.parquet$/);
  t.is((await all(hfDataset({ path: 'owner/tok', download: false, hub: c }))).length, 9);
});

test.serial('from: each document\'s cursor resumes just after it, streaming or downloaded; files before it are not fetched', async (t) => {
  for (const download of [true, false]) {
    const c = cfg();
    const docs = await all(hfDataset({ path: 'owner/tok', download, hub: c }));
    for (let k = 0; k < docs.length; k++) {
      const from = documentEnd(docs[k]!);
      if (!from) return t.fail(`document ${k} has no cursor`);
      hub.clearLog();
      t.deepEqual(show(await all(hfDataset({ path: 'owner/tok', download, hub: c, from }))), show(docs.slice(k + 1)), `download ${download}: after document ${k} (${JSON.stringify(from)})`);
      if (!download && from.file === 1) t.false(hub.requests.some((r) => r.url.includes('train-00000-of-00002')), 'the first file is not read');
    }
  }
  const c = cfg();
  const first = documentEnd((await all(hfDataset({ path: 'owner/tok', hub: c })))[0]!)!;
  t.is(first.name, 'data/train-00000-of-00002.parquet');
  await t.throwsAsync(all(hfDataset({ path: 'owner/tok', hub: c, from: { ...first, name: 'data/other.parquet' } })), { instanceOf: FileFormatError, message: /cannot resume at file 0 "data\/other\.parquet": that file is now "data\/train-00000-of-00002\.parquet"/ });
  t.throws(() => hfDataset({ path: 'owner/tok', hub: c, from: first, shuffleSeed: 3 }), { instanceOf: ConfigError });
});

test.serial('seeded shuffle of files and row groups: deterministic, a permutation, rows kept within a group', async (t) => {
  const c = cfg();
  const plain = show(await all(hfDataset({ path: 'owner/tok', hub: c })));
  const a = show(await all(hfDataset({ path: 'owner/tok', shuffleSeed: 1, hub: c })));
  const b = show(await all(hfDataset({ path: 'owner/tok', shuffleSeed: 1, hub: c })));
  t.deepEqual(a, b);
  t.deepEqual([...a].sort(), [...plain].sort());
  const anyDifferent = await Promise.all([2, 3, 4].map(async (s) => JSON.stringify(show(await all(hfDataset({ path: 'owner/tok', shuffleSeed: s, hub: c }))))));
  t.true([JSON.stringify(a), ...anyDifferent].some((x) => x !== JSON.stringify(plain)));
  const i = a.indexOf('0,1');
  t.is(a[i + 1], '1,2', 'row group [0, 1] stays in order');
});

test.serial('falls back to refs/convert/parquet for a dataset without parquet at main; text column', async (t) => {
  const c = cfg();
  t.deepEqual(show(await all(hfDataset({ path: 'owner/raw', hub: c }))), ['hello', 'world']);
  t.true(hub.requests.some((r) => r.url.includes('refs%2Fconvert%2Fparquet')));
  // and offline, through the refs/refs/convert/parquet entry of the cache
  t.deepEqual(show(await all(hfDataset({ path: 'owner/raw', revision: 'refs/convert/parquet', hub: { ...c, offline: true } }))), ['hello', 'world']);
});

test.serial('single-split dataset (no split in file names) with input_ids', async (t) => {
  const docs = await all(hfDataset({ path: 'owner/one', hub: cfg() }));
  t.deepEqual(show(docs), rows(7, 3).map((r) => r.join(',')));
});

test.serial('pull-paced: take(1) downloads only the first file', async (t) => {
  const c = cfg();
  hub.clearLog();
  const first = await lastValueFrom(hfDataset({ path: 'owner/tok', hub: c }).pipe(take(1), toArray()));
  t.deepEqual(show(first), ['0,1']);
  await new Promise((r) => setTimeout(r, 50));
  const files = new Set(hub.requests.filter((r) => r.url.includes('/resolve/')).map((r) => r.url.split('/').pop()));
  t.deepEqual([...files], ['train-00000-of-00002.parquet']);
});

test.serial('errors: unknown split lists the parquet files; missing dataset; offline cache miss', async (t) => {
  const c = cfg();
  await t.throwsAsync(all(hfDataset({ path: 'owner/tok', split: 'validation', hub: c })), {
    instanceOf: HubError,
    message: /dataset "owner\/tok" at revision "main" has no parquet files for split "validation" \(parquet files: data\/test-00000-of-00001\.parquet, data\/train-00000-of-00002\.parquet/,
  });
  await t.throwsAsync(all(hfDataset({ path: 'owner/missing', hub: c })), { instanceOf: HubError, message: /repository not found/ });
  await t.throwsAsync(all(hfDataset({ path: 'owner/tok', hub: { ...cfg(), offline: true } })), { instanceOf: HubError, message: /not in the hub cache.*HF_HUB_OFFLINE/ });
});

test('split file naming conventions', (t) => {
  t.true(parquetFileInSplit('data/train-00000-of-00002.parquet', 'train'));
  t.true(parquetFileInSplit('default/train/0000.parquet', 'train'));
  t.true(parquetFileInSplit('plain_text/train-00000-of-00001.parquet', 'train'));
  t.true(parquetFileInSplit('train.parquet', 'train'));
  t.true(parquetFileInSplit('owner--ds-train.parquet', 'train'));
  t.false(parquetFileInSplit('data/test-00000-of-00001.parquet', 'train'));
  t.false(parquetFileInSplit('data/training-00000.parquet', 'train'));
  t.deepEqual(selectSplitFiles(['b.parquet', 'a.parquet', 'README.md'], undefined), ['a.parquet', 'b.parquet']);
  t.deepEqual(selectSplitFiles(['test.parquet', 'x.parquet'], undefined), []);
});
