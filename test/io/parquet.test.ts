import test from 'ava';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AsyncBuffer } from 'hyparquet';
import { FileFormatError } from '../../src/errors.js';
import { ParquetFile, toTokenArray, toText } from '../../src/io/parquet.js';
import { parquetBytes, writeParquet } from '../helpers/parquetFixtures.js';

let tmp: string;
test.before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sae-rx-pq-'));
});
test.after.always(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const tokens = Array.from({ length: 25 }, (_, i) => Array.from({ length: 3 + (i % 4) }, (_, j) => i * 100 + j));

test('reads a tokens list<int64> column row group by row group from a local file', async (t) => {
  const p = path.join(tmp, 'tok.parquet');
  await writeParquet(p, { tokens, ids: tokens.map((_, i) => i), rowGroupSize: 10 });
  const f = await ParquetFile.open(p);
  try {
    t.is(f.numRows, 25);
    t.deepEqual(f.columns(), ['id', 'tokens']);
    t.deepEqual(f.rowGroups(), [
      { index: 0, rowStart: 0, numRows: 10 },
      { index: 1, rowStart: 10, numRows: 10 },
      { index: 2, rowStart: 20, numRows: 5 },
    ]);
    t.is(f.documentColumn(), 'tokens');
    const g1 = await f.readRowGroup(1, 'tokens');
    t.is(g1.length, 10);
    t.deepEqual(Array.from(toTokenArray(g1[0], 'x')), tokens[10]);
    const all: number[][] = [];
    for await (const v of f.values('tokens')) all.push(Array.from(toTokenArray(v, 'x')));
    t.deepEqual(all, tokens);
    // a chosen row group order
    const order: number[] = [];
    for await (const v of f.values('id', [2, 0])) order.push(v as number);
    t.deepEqual(order, [20, 21, 22, 23, 24, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  } finally {
    await f.close();
  }
});

test('text and input_ids columns; uncompressed too; column choice errors name the file', async (t) => {
  const text = ['hello world', 'ünïcødé ✓', '', 'last'];
  const f = await ParquetFile.open(parquetBytes({ text, tokens: [[1], [2, 3], [], [4]], tokensColumn: 'input_ids', codec: 'UNCOMPRESSED' }), 'mem.parquet');
  t.is(f.documentColumn(), 'input_ids');
  t.is(f.documentColumn('text'), 'text');
  t.deepEqual((await f.readRowGroup(0, 'text')).map((v) => toText(v, 'x')), text);
  t.deepEqual((await f.readRowGroup(0, 'input_ids')).map((v) => Array.from(toTokenArray(v, 'x'))), [[1], [2, 3], [], [4]]);
  t.throws(() => f.documentColumn('nope'), { instanceOf: FileFormatError, message: /mem\.parquet: no column "nope" \(columns: input_ids, text\)/ });
  await t.throwsAsync(f.readRowGroup(5, 'text'), { instanceOf: FileFormatError, message: /no row group 5/ });
  const g = await ParquetFile.open(parquetBytes({ ids: [1, 2] }), 'ids.parquet');
  t.throws(() => g.documentColumn(), { instanceOf: FileFormatError, message: /ids\.parquet: none of the columns tokens, input_ids, text found \(columns: id\)/ });
});

test('reads only the footer to open, and only the asked row group to read it', async (t) => {
  const bytes = parquetBytes({ tokens: Array.from({ length: 4000 }, (_, i) => [i, i + 1, i + 2, i + 3]), rowGroupSize: 1000, codec: 'UNCOMPRESSED' });
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const reads: Array<[number, number]> = [];
  const file: AsyncBuffer = {
    byteLength: ab.byteLength,
    slice(s, e) {
      reads.push([s, e ?? ab.byteLength]);
      return ab.slice(s, e);
    },
  };
  const f = await ParquetFile.open(file, 'logged');
  // hyparquet fetches the footer (at most its default 512 KB tail): our fixture is smaller, so
  // assert on what reading one row group adds instead
  reads.length = 0;
  const rows = await f.readRowGroup(2, 'tokens');
  t.is(rows.length, 1000);
  t.deepEqual(Array.from(toTokenArray(rows[0], 'x')), [2000, 2001, 2002, 2003]);
  const bytesRead = reads.reduce((a, [s, e]) => a + (e - s), 0);
  const chunk = f.metadata.row_groups[2]!.columns[0]!.meta_data!;
  t.true(bytesRead <= Number(chunk.total_compressed_size) + 64, `read ${bytesRead} bytes for a ${chunk.total_compressed_size}-byte chunk`);
  t.true(bytesRead < ab.byteLength / 3);
});

test('malformed parquet: clear FileFormatErrors', async (t) => {
  const p = path.join(tmp, 'junk.parquet');
  await fsp.writeFile(p, 'this is not parquet at all, just text');
  await t.throwsAsync(ParquetFile.open(p), { instanceOf: FileFormatError, message: /junk\.parquet: not a readable parquet file/ });
  const good = parquetBytes({ tokens: [[1, 2]] });
  const cut = path.join(tmp, 'cut.parquet');
  await fsp.writeFile(cut, good.subarray(0, good.length - 10));
  await t.throwsAsync(ParquetFile.open(cut), { instanceOf: FileFormatError, message: /cut\.parquet/ });
  await t.throwsAsync(ParquetFile.open(path.join(tmp, 'none.parquet')), { instanceOf: FileFormatError, message: /none\.parquet: cannot open \(ENOENT\)/ });
  t.throws(() => toTokenArray([1, 2 ** 40], 'f.parquet row 3'), { message: /f\.parquet row 3: token 1 is 1099511627776/ });
  t.throws(() => toTokenArray(null, 'f row 0'), { message: /expected a list of token ids, got null/ });
});
