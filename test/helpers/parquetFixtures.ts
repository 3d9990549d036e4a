/**
 * Writes small real parquet files for tests (hyparquet-writer): a `tokens` list<int64> column
 * in HF's 3-level LIST layout (as pyarrow writes it) and/or a `text` column.
 */
import { parquetWriteBuffer } from 'hyparquet-writer';
import { promises as fsp } from 'node:fs';

export interface ParquetFixture {
  tokens?: number[][];
  /** column name for tokens (default `tokens`) */
  tokensColumn?: string;
  text?: string[];
  /** extra int column `id` */
  ids?: number[];
  rowGroupSize?: number;
  codec?: 'SNAPPY' | 'UNCOMPRESSED';
}

export function parquetBytes(f: ParquetFixture): Uint8Array {
  const columnData: Array<{ name: string; data: unknown[] }> = [];
  const schema: Array<Record<string, unknown>> = [];
  if (f.ids) {
    columnData.push({ name: 'id', data: f.ids });
    schema.push({ name: 'id', type: 'INT32', repetition_type: 'OPTIONAL' });
  }
  if (f.tokens) {
    const name = f.tokensColumn ?? 'tokens';
    columnData.push({ name, data: f.tokens.map((r) => r.map((v) => BigInt(v))) });
    schema.push(
      { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'INT64', repetition_type: 'OPTIONAL' },
    );
  }
  if (f.text) {
    columnData.push({ name: 'text', data: f.text });
    schema.push({ name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
  }
  const buf = parquetWriteBuffer({
    columnData: columnData as never,
    schema: [{ name: 'root', num_children: columnData.length }, ...schema] as never,
    rowGroupSize: f.rowGroupSize ?? 1000,
    codec: f.codec ?? 'SNAPPY',
  });
  return new Uint8Array(buf);
}

export async function writeParquet(path: string, f: ParquetFixture): Promise<void> {
  await fsp.writeFile(path, parquetBytes(f));
}
