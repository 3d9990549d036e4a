/**
 * Parquet reading for datasets, row group by row group, with hyparquet (+ hyparquet-compressors
 * for gzip/zstd/brotli/lz4, which HF datasets use besides snappy).
 *
 * A file is opened by reading its footer only; `readRowGroup` then fetches and decodes one
 * column of one row group, so memory stays at one row group of one column whatever the file
 * size. Local files are read with positioned reads (the platform's files).
 */
import { parquetMetadataAsync, parquetRead, parquetSchema } from 'hyparquet';
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { FileFormatError } from '../errors.js';
import { platform, type RandomAccessFile } from '../platform/index.js';

/** Columns that hold a document, in the order they are looked for. */
export const DOCUMENT_COLUMNS = ['tokens', 'input_ids', 'text'] as const;

/** What a parquet file can be opened from. */
export type ParquetInput = string | Uint8Array | ArrayBuffer | AsyncBuffer;

/** One row group's place in the file. */
export interface ParquetRowGroupInfo {
  index: number;
  /** first row of the group in the file */
  rowStart: number;
  numRows: number;
}

/** An AsyncBuffer over a local file using positioned reads (no read streams, no whole-file reads). */
async function fileAsyncBuffer(path: string): Promise<{ buf: AsyncBuffer; fh: RandomAccessFile }> {
  let fh: RandomAccessFile;
  try {
    fh = await platform.files.open(path);
  } catch (e) {
    throw new FileFormatError(`parquet ${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  const { size } = fh;
  const buf: AsyncBuffer = {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? size, size);
      const out = new Uint8Array(Math.max(0, stop - start));
      const got = await fh.readAt(out, start);
      if (got < out.length) throw new FileFormatError(`parquet ${path}: file ended at ${start + got}, expected ${stop} bytes (truncated?)`);
      return out.buffer;
    },
  };
  return { buf, fh };
}

function asArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.byteOffset === 0 && u.byteLength === u.buffer.byteLength && u.buffer instanceof ArrayBuffer
    ? u.buffer
    : (u.slice().buffer as ArrayBuffer);
}

/** A parquet file opened for reading one column of one row group at a time. */
export class ParquetFile {
  /** derived once from the footer (it does not change) */
  private readonly groups: readonly ParquetRowGroupInfo[];
  private readonly cols: readonly string[];

  private constructor(
    /** the path, or a label for in-memory inputs (used in error messages) */
    readonly name: string,
    private readonly file: AsyncBuffer,
    readonly metadata: FileMetaData,
    private fh: RandomAccessFile | undefined,
  ) {
    let start = 0;
    this.groups = metadata.row_groups.map((g, index) => {
      const numRows = Number(g.num_rows);
      const info = { index, rowStart: start, numRows };
      start += numRows;
      return info;
    });
    this.cols = parquetSchema(metadata).children.map((c) => c.element.name);
  }

  /** Opens a local path, bytes, or any hyparquet AsyncBuffer, and parses the footer. */
  static async open(input: ParquetInput, name?: string): Promise<ParquetFile> {
    let file: AsyncBuffer;
    let fh: RandomAccessFile | undefined;
    const label = name ?? (typeof input === 'string' ? input : '<bytes>');
    if (typeof input === 'string') ({ buf: file, fh } = await fileAsyncBuffer(input));
    else if (input instanceof Uint8Array) file = asArrayBuffer(input);
    else file = input;
    try {
      if (file.byteLength < 12) throw new Error(`only ${file.byteLength} bytes`);
      const metadata = await parquetMetadataAsync(file);
      return new ParquetFile(label, file, metadata, fh);
    } catch (e) {
      await fh?.close().catch(() => {});
      if (e instanceof FileFormatError) throw e;
      throw new FileFormatError(`parquet ${label}: not a readable parquet file (${(e as Error).message})`, { cause: e });
    }
  }

  get numRows(): number {
    return Number(this.metadata.num_rows);
  }

  /** Top-level column names. */
  columns(): string[] {
    return [...this.cols];
  }

  rowGroups(): ParquetRowGroupInfo[] {
    return this.groups.map((g) => ({ ...g }));
  }

  /**
   * The column to read documents from: `column` if given (must exist), else the first of
   * `tokens`, `input_ids`, `text` that the file has.
   */
  documentColumn(column?: string): string {
    const cols = this.cols;
    if (column !== undefined) {
      if (!cols.includes(column)) throw new FileFormatError(`parquet ${this.name}: no column "${column}" (columns: ${cols.join(', ')})`);
      return column;
    }
    const found = DOCUMENT_COLUMNS.find((c) => cols.includes(c));
    if (!found) {
      throw new FileFormatError(`parquet ${this.name}: none of the columns ${DOCUMENT_COLUMNS.join(', ')} found (columns: ${cols.join(', ')}); pass column explicitly`);
    }
    return found;
  }

  /** Decodes one column of one row group: one value per row (lists as arrays, INT64 as bigint). */
  async readRowGroup(index: number, column: string): Promise<unknown[]> {
    const g = this.groups[index];
    if (!g) throw new FileFormatError(`parquet ${this.name}: no row group ${index} (has ${this.groups.length})`);
    if (!this.cols.includes(column)) {
      throw new FileFormatError(`parquet ${this.name}: no column "${column}" (columns: ${this.cols.join(', ')})`);
    }
    if (g.numRows === 0) return [];
    let rows: unknown[][] | undefined;
    try {
      await parquetRead({
        file: this.file,
        metadata: this.metadata,
        columns: [column],
        rowStart: g.rowStart,
        rowEnd: g.rowStart + g.numRows,
        compressors,
        onComplete: (r: unknown[][]) => {
          rows = r;
        },
      });
    } catch (e) {
      if (e instanceof FileFormatError) throw e;
      throw new FileFormatError(`parquet ${this.name}: row group ${index}, column "${column}": ${(e as Error).message}`, { cause: e });
    }
    if (!rows || rows.length !== g.numRows) {
      throw new FileFormatError(`parquet ${this.name}: row group ${index}, column "${column}": decoded ${rows?.length ?? 0} rows, metadata says ${g.numRows}`);
    }
    return rows.map((r) => r[0]);
  }

  /** Values of `column` row by row, row group by row group (in `order` if given). */
  async *values(column: string, order?: number[]): AsyncGenerator<unknown> {
    const idx = order ?? this.groups.map((g) => g.index);
    for (const i of idx) {
      for (const v of await this.readRowGroup(i, column)) yield v;
    }
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}

/**
 * A list-of-integers cell (`tokens` / `input_ids`) as an Int32Array. INT64 values arrive as
 * bigint; values outside int32 are an error naming `where`.
 */
export function toTokenArray(value: unknown, where: string): Int32Array {
  if (value instanceof Int32Array) return value;
  if (!Array.isArray(value) && !ArrayBuffer.isView(value)) {
    throw new FileFormatError(`${where}: expected a list of token ids, got ${value === null ? 'null' : typeof value}`);
  }
  const src = value as ArrayLike<unknown>;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < -2147483648 || n > 2147483647) {
      throw new FileFormatError(`${where}: token ${i} is ${String(v)}, not an int32 token id`);
    }
    out[i] = n;
  }
  return out;
}

/** A text cell as a string (unannotated BYTE_ARRAY columns may arrive as bytes). */
export function toText(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  throw new FileFormatError(`${where}: expected text, got ${value === null ? 'null' : typeof value}`);
}
