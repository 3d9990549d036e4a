import test from 'ava';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  FolderStore, S3Store, StoreNotFoundError, type Store, committedFiles, downloadDir, isCommitted, openStore, prefetched, uploadDir, writeCommitted,
} from '../../src/store/index.js';
import { type FaultProxy, type TestS3, startFaultProxy, startS3 } from '../helpers/s3.js';

let tmp: string;
let s3: TestS3;
let proxy: FaultProxy;
test.before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sae-rx-store-'));
  s3 = await startS3(['sae-rx-test']);
  proxy = await startFaultProxy(s3.endpoint);
});
test.after.always(async () => {
  await proxy?.close();
  await s3?.close();
  await fsp.rm(tmp, { recursive: true, force: true });
});

const stores: Record<string, () => Store> = {
  folder: () => new FolderStore(path.join(tmp, `f-${Math.random().toString(36).slice(2)}`)),
  s3: () => openStore(`s3://sae-rx-test/run-${Math.random().toString(36).slice(2)}/x`, { env: s3.env() }),
};

for (const [kind, make] of Object.entries(stores)) {
  test(`${kind}: put/get/range/size/list/move/delete`, async (t) => {
    const st = make();
    t.teardown(() => st.close());
    await st.put('a/b/1.bin', new Uint8Array([1, 2, 3, 4, 5]));
    await st.put('a/c.txt', 'hello');
    await st.put('z.txt', 'z');
    t.deepEqual([...(await st.get('a/b/1.bin'))], [1, 2, 3, 4, 5]);
    t.deepEqual([...(await st.getRange('a/b/1.bin', 1, 4))], [2, 3, 4]);
    t.is(await st.size('a/c.txt'), 5);
    t.is(await st.size('nope'), undefined);
    t.deepEqual(await st.list('a/'), ['a/b/1.bin', 'a/c.txt']);
    t.deepEqual(await st.list(''), ['a/b/1.bin', 'a/c.txt', 'z.txt']);
    await st.move('a/c.txt', 'd/c.txt');
    t.is(new TextDecoder().decode(await st.get('d/c.txt')), 'hello');
    await t.throwsAsync(st.get('a/c.txt'), { instanceOf: StoreNotFoundError });
    await st.delete(['z.txt', 'never-there']);
    t.deepEqual(await st.list(''), ['a/b/1.bin', 'd/c.txt']);
    t.throws(() => st.localPath?.('../x') ?? (() => { throw new Error('..'); })());
  });

  test(`${kind}: a committed prefix round-trips through a folder; an uncommitted one is not trusted`, async (t) => {
    const st = make();
    t.teardown(() => st.close());
    const src = path.join(tmp, `src-${kind}`);
    await fsp.mkdir(path.join(src, 'sub'), { recursive: true });
    await fsp.writeFile(path.join(src, 'cfg.json'), '{"a":1}');
    await fsp.writeFile(path.join(src, 'sub', 'w.bin'), new Uint8Array(100).fill(7));
    await fsp.writeFile(path.join(src, '.hidden.tmp-1'), 'half');
    t.false(await isCommitted(st, 'ck/100'));
    await uploadDir(st, src, 'ck/100');
    t.deepEqual(await committedFiles(st, 'ck/100'), { 'cfg.json': 7, 'sub/w.bin': 100 });
    const dst = path.join(tmp, `dst-${kind}`);
    t.true(await downloadDir(st, 'ck/100', dst));
    t.deepEqual([...(await fsp.readFile(path.join(dst, 'sub', 'w.bin')))], [...new Uint8Array(100).fill(7)]);
    // objects without their marker (a writer that died before committing) are not a checkpoint
    await st.put('ck/200/cfg.json', '{}');
    t.false(await downloadDir(st, 'ck/200', path.join(tmp, `dst2-${kind}`)));
    await writeCommitted(st, 'ck/300', { 'x.txt': 'x' });
    t.true(await isCommitted(st, 'ck/300'));
  });
}

test('folder store: a crash mid-write leaves only a hidden temp file, never listed', async (t) => {
  const st = new FolderStore(path.join(tmp, 'crash'));
  await st.put('k/v.bin', new Uint8Array([1]));
  await fsp.writeFile(path.join(tmp, 'crash', 'k', '.w.bin.tmp-123-abcd'), 'half');
  t.deepEqual(await st.list(''), ['k/v.bin']);
});

test('s3 store: multipart upload of an object larger than the part size', async (t) => {
  const st = new S3Store('s3://sae-rx-test/mp', { endpoint: s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, partSize: 5 * 1024 * 1024 });
  t.teardown(() => st.close());
  const big = new Uint8Array(11 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 255;
  await st.put('big.bin', big);
  t.is(await st.size('big.bin'), big.length);
  const back = await st.get('big.bin');
  t.true(Buffer.from(back).equals(Buffer.from(big)));
});

test('s3 store rides out 503s and dropped connections through the retry window', async (t) => {
  const st = openStore('s3://sae-rx-test/flaky', { env: s3.env(proxy.endpoint), retry: { windowMs: 20_000, baseDelayMs: 50, maxDelayMs: 400 } });
  t.teardown(() => st.close());
  await st.put('before.txt', 'ok');
  const f0 = proxy.faults;
  const outage = proxy.outage('503', 1200).then(() => proxy.outage('reset', 1200));
  await st.put('during.bin', new Uint8Array([9, 8, 7]));
  t.deepEqual([...(await st.get('during.bin'))], [9, 8, 7]);
  t.is(new TextDecoder().decode(await st.get('before.txt')), 'ok');
  await outage;
  t.deepEqual(await st.list(''), ['before.txt', 'during.bin']);
  t.true(proxy.faults > f0, 'the proxy answered faults');
});

test.serial('s3 store: a request that is never answered times out and is retried (it does not wait forever)', async (t) => {
  const st = openStore('s3://sae-rx-test/unanswered', { env: s3.env(proxy.endpoint), retry: { windowMs: 20_000, baseDelayMs: 50, maxDelayMs: 200 }, s3: { requestTimeoutMs: 700 } });
  t.teardown(() => st.close());
  await st.put('k.txt', 'v');
  // the proxy swallows the first HEAD: no answer, no reset, as from a peer gone silently
  let swallowed = 0;
  proxy.onRequest = (method) => (method === 'HEAD' && swallowed++ === 0 ? 'hold' : 'pass');
  t.teardown(() => (proxy.onRequest = undefined));
  const t0 = Date.now();
  t.is(await st.size('k.txt'), 1);
  t.is(swallowed, 2, 'the held request was sent again');
  t.true(Date.now() - t0 < 10_000);
});

test('s3 store: a permanent error fails at once with the key in the message; an outage longer than the window fails', async (t) => {
  const st = openStore('s3://no-such-bucket-here/x', { env: s3.env(), retry: { windowMs: 60_000 } });
  t.teardown(() => st.close());
  const t0 = Date.now();
  await t.throwsAsync(st.get('k.bin'), { message: /s3:\/\/no-such-bucket-here\/x\/k\.bin/ });
  t.true(Date.now() - t0 < 5000);
  const flaky = openStore('s3://sae-rx-test/flaky2', { env: s3.env(proxy.endpoint), retry: { windowMs: 300, baseDelayMs: 50 } });
  t.teardown(() => flaky.close());
  proxy.mode = '503';
  try {
    await t.throwsAsync(flaky.put('k', 'v'), { message: /cannot write/ });
  } finally {
    proxy.mode = 'pass';
  }
});

test('prefetched keeps at most `ahead` reads in flight beyond the one consumed', async (t) => {
  let started = 0;
  let maxAhead = 0;
  let consumed = 0;
  const reads = Array.from({ length: 8 }, (_, i) => async () => {
    started++;
    maxAhead = Math.max(maxAhead, started - consumed);
    await new Promise((r) => setTimeout(r, 2));
    return i;
  });
  const got: number[] = [];
  for await (const v of prefetched(reads, 2)) {
    got.push(v);
    consumed++;
    await new Promise((r) => setTimeout(r, 10)); // a slow consumer
  }
  t.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7]);
  t.true(maxAhead <= 3, `in flight ahead of the consumer: ${maxAhead}`);
});
