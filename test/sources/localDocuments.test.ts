import test from 'ava';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { ConfigError, FileFormatError } from '../../src/errors.js';
import { type Document } from '../../src/stream/Document.js';
import { seededRandom, seededShuffle } from '../../src/stream/rng.js';
import { localDocuments } from '../../src/sources/localDocuments.js';
import { documentEnd } from '../../src/sources/documentCursor.js';
import { writeParquet } from '../helpers/parquetFixtures.js';
import { titled } from '../helpers/skip.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const shared = path.resolve(here, '..', '..', '..', 'shared');

let tmp: string;
test.before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sae-rx-local-'));
});
test.after.always(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const texts = (docs: Document[]) => docs.map((d) => ('text' in d ? d.text : `#${Array.from(d.tokens).join(',')}`));
const all = (o: ReturnType<typeof localDocuments>) => lastValueFrom(o.pipe(toArray()));

test('.txt: paragraphs by default, or lines, or the whole file', async (t) => {
  const p = path.join(tmp, 'a.txt');
  await fsp.writeFile(p, 'First para\nline two\n\n\n  \nSecond para\r\nstill second\n\nThird');
  t.deepEqual(texts(await all(localDocuments(p))), ['First para\nline two', 'Second para\nstill second', 'Third']);
  t.deepEqual(texts(await all(localDocuments(p, { txt: 'lines' }))), ['First para', 'line two', 'Second para', 'still second', 'Third']);
  t.is(texts(await all(localDocuments(p, { txt: 'file' })))[0], 'First para\nline two\n\n\n  \nSecond para\r\nstill second\n\nThird');
  t.throws(() => localDocuments(p, { txt: 'words' as never }), { instanceOf: ConfigError });
});

test('.jsonl: tokens, input_ids or text fields; errors name file and line', async (t) => {
  const p = path.join(tmp, 'b.jsonl');
  await fsp.writeFile(p, '{"tokens": [1, 2, 3]}\n\n{"tokens": [4]}\n');
  const docs = await all(localDocuments(p));
  t.deepEqual(docs.map((d) => ('tokens' in d ? Array.from(d.tokens) : d.text)), [[1, 2, 3], [4]]);
  t.true(docs.every((d) => 'tokens' in d && d.tokens instanceof Int32Array));
  const q = path.join(tmp, 'c.jsonl');
  await fsp.writeFile(q, '{"text": "hello", "id": 1}\n{"text": "world", "id": 2}\n');
  t.deepEqual(texts(await all(localDocuments(q))), ['hello', 'world']);
  await t.throwsAsync(all(localDocuments(q, { column: 'body' })), { instanceOf: FileFormatError, message: /c\.jsonl:1: no field "body" \(fields: text, id\)/ });
  const bad = path.join(tmp, 'd.jsonl');
  await fsp.writeFile(bad, '{"text": "ok"}\n{"text": oops}\n');
  await t.throwsAsync(all(localDocuments(bad)), { instanceOf: FileFormatError, message: /d\.jsonl:2: not valid JSON/ });
  const big = path.join(tmp, 'e.jsonl');
  await fsp.writeFile(big, '{"input_ids": [1, 99999999999]}\n');
  await t.throwsAsync(all(localDocuments(big)), { instanceOf: FileFormatError, message: /e\.jsonl:1, field "input_ids": token 1 is 99999999999/ });
});

test('.parquet and folders: name order, or a seeded order of files and row groups', async (t) => {
  const dir = path.join(tmp, 'mixed');
  await fsp.mkdir(path.join(dir, 'sub'), { recursive: true });
  await writeParquet(path.join(dir, 'a.parquet'), { tokens: Array.from({ length: 6 }, (_, i) => [i, i]), rowGroupSize: 2 });
  await fsp.writeFile(path.join(dir, 'b.jsonl'), '{"tokens": [100]}\n{"tokens": [101]}\n');
  await fsp.writeFile(path.join(dir, 'sub', 'c.txt'), 'para one\n\npara two\n');
  await fsp.writeFile(path.join(dir, 'notes.md'), 'ignored');
  const inOrder = texts(await all(localDocuments(dir)));
  t.deepEqual(inOrder, ['#0,0', '#1,1', '#2,2', '#3,3', '#4,4', '#5,5', '#100', '#101', 'para one', 'para two']);
  const s1 = texts(await all(localDocuments(dir, { shuffleSeed: 3 })));
  const s2 = texts(await all(localDocuments(dir, { shuffleSeed: 3 })));
  const s3 = texts(await all(localDocuments(dir, { shuffleSeed: 4 })));
  t.deepEqual(s1, s2, 'same seed, same order');
  t.deepEqual([...s1].sort(), [...inOrder].sort(), 'a permutation of the same documents');
  t.true(JSON.stringify(s1) !== JSON.stringify(inOrder) || JSON.stringify(s3) !== JSON.stringify(inOrder));
  // rows within a row group keep their order
  const i0 = s1.indexOf('#0,0');
  t.is(s1[i0 + 1], '#1,1');
  // text column of a parquet file
  const tp = path.join(tmp, 'text.parquet');
  await writeParquet(tp, { text: ['x', 'y'], ids: [1, 2] });
  t.deepEqual(texts(await all(localDocuments(tp))), ['x', 'y']);
});

test('errors: missing path, unsupported file, empty folder', async (t) => {
  await t.throwsAsync(all(localDocuments(path.join(tmp, 'nope.txt'))), { instanceOf: FileFormatError, message: /nope\.txt \(ENOENT\)/ });
  const md = path.join(tmp, 'x.md');
  await fsp.writeFile(md, 'x');
  await t.throwsAsync(all(localDocuments(md)), { instanceOf: ConfigError, message: /x\.md is not a \.txt, \.jsonl or \.parquet file/ });
  const empty = path.join(tmp, 'empty');
  await fsp.mkdir(empty);
  await t.throwsAsync(all(localDocuments(empty)), { instanceOf: FileFormatError, message: /no \.txt, \.jsonl or \.parquet files/ });
});

test('pull-paced: take(n) stops reading; each subscription starts over', async (t) => {
  const p = path.join(tmp, 'many.jsonl');
  await fsp.writeFile(p, Array.from({ length: 1000 }, (_, i) => JSON.stringify({ tokens: [i] })).join('\n'));
  const src = localDocuments(p);
  const firstTwo = await lastValueFrom(src.pipe(take(2), toArray()));
  t.deepEqual(texts(firstTwo), ['#0', '#1']);
  const again = await firstValueFrom(src);
  t.deepEqual(texts([again]), ['#0']);
});

test('seededShuffle is a deterministic permutation', (t) => {
  const xs = Array.from({ length: 20 }, (_, i) => i);
  const a = seededShuffle(xs, seededRandom(7));
  t.deepEqual(a, seededShuffle(xs, seededRandom(7)));
  t.notDeepEqual(a, xs);
  t.deepEqual([...a].sort((x, y) => x - y), xs);
});

const shakespeare = path.join(shared, 'data', 'tinyshakespeare.txt');
const haveShakespeare = existsSync(shakespeare);
(haveShakespeare ? test : test.skip)(titled('reads the shared Shakespeare text as paragraphs', haveShakespeare ? undefined : `${shakespeare} absent (needs ../shared)`), async (t) => {
  const p = shakespeare;
  const docs = await all(localDocuments(p));
  t.true(docs.length > 5000, `${docs.length} paragraphs`);
  t.true(docs.every((d) => 'text' in d && d.text.trim().length > 0));
});

test('from: every document\'s cursor resumes just after it (txt in each mode, with CRLF, lone CR, blank runs, a BOM and no last newline; jsonl; parquet; a folder of all)', async (t) => {
  const dir = path.join(tmp, 'seek');
  await fsp.mkdir(dir, { recursive: true });
  // a 1.3 MB text: lines and paragraphs cross the reader's 1 MB chunks, a \r\n falls on a chunk edge somewhere
  const words = ['alpha', 'beta', 'gamma', 'délta', 'ε', '😀'];
  const rng = seededRandom(3);
  const parts = ['\uFEFFfirst line\r\r\n'];
  for (let len = 0; len < 1.3e6; ) {
    const n = 1 + Math.floor(rng() * 12);
    const p = Array.from({ length: n }, () => words[Math.floor(rng() * words.length)]).join(' ') + ['\n', '\r\n', '\r', '\n\n', '\r\n\r\n', '\n  \n\t\n', '\r\r'][Math.floor(rng() * 7)];
    parts.push(p);
    len += p.length;
  }
  const big = parts.join('') + 'last line without newline';
  await fsp.writeFile(path.join(dir, 'a.txt'), big);
  await fsp.writeFile(path.join(dir, 'b.jsonl'), '{"text": "one"}\r\n\n{"tokens": [1, 2]}\n{"text": null}\n{"text": "four"}');
  await writeParquet(path.join(dir, 'c.parquet'), { tokens: Array.from({ length: 7 }, (_, i) => [i, i + 1]), rowGroupSize: 3 });
  await fsp.writeFile(path.join(dir, 'd.txt'), 'x\ry\n\nz\r');
  for (const txt of ['paragraphs', 'lines', 'file'] as const) {
    const docs = await all(localDocuments(dir, { txt }));
    // the readers' split equals readline's (the old implementation): checked on the big file
    if (txt !== 'file') {
      const lines = big.split(/\r?\n|\r(?!\n)/);
      const want = txt === 'lines' ? lines.filter((l) => l.trim() !== '') : big.split(/\r?\n|\r(?!\n)/).reduce<string[][]>((ps, l) => (l.trim() === '' ? ps.push([]) : ps[ps.length - 1]!.push(l), ps), [[]]).filter((p) => p.length > 0).map((p) => p.join('\n'));
      t.deepEqual(texts(docs).slice(0, want.length), want, `${txt}: a.txt's documents`);
    }
    const all1 = texts(docs);
    let checked = 0;
    // 16 documents spread over the big file, and every document of the small files after it
    const stride = Math.ceil(docs.length / 16);
    for (let k = 0; k < docs.length; k++) {
      if (!(k % stride === 0 || k > docs.length - 12)) continue;
      const c = documentEnd(docs[k]!);
      if (!c) return t.fail(`${txt}: document ${k} has no cursor`);
      t.deepEqual(texts(await all(localDocuments(dir, { txt, from: c }))), all1.slice(k + 1), `${txt}: after document ${k} (${JSON.stringify(c)})`);
      checked++;
    }
    t.true(checked >= 10, `${txt}: ${checked} cursors checked`);
  }
  // a cursor of another file list, and one with a shuffled order, are errors
  const c = documentEnd((await all(localDocuments(dir)))[0]!)!;
  await t.throwsAsync(all(localDocuments(dir, { from: { ...c, name: 'other.txt' } })), { instanceOf: FileFormatError, message: /cannot resume at file 0 "other.txt": that file is now "a.txt"/ });
  await t.throwsAsync(all(localDocuments(dir, { from: { ...c, file: 9 } })), { instanceOf: FileFormatError, message: /there are fewer files/ });
  t.throws(() => localDocuments(dir, { from: c, shuffleSeed: 1 }), { instanceOf: ConfigError });
  t.is(documentEnd((await all(localDocuments(dir, { shuffleSeed: 1 })))[0]!), undefined, 'a shuffled order gives no cursors');
});
