/**
 * Where a document source can resume reading: just after one of the documents it emitted.
 *
 * A distributed cache job starts packing at its shard's first document (cluster/cache/starts.ts).
 * Counting documents from the beginning to get there reads every document before it, which
 * grows with the shard's position (a late shard of a corpus of gigabytes would read gigabytes);
 * a cursor lets the source seek there instead. Sources that can seek (local .txt, .jsonl and
 * .parquet files, Hub parquet datasets, all read in their plain order) tag each document they
 * emit with the cursor just after it (`documentEnd`) and take one back as `from`; documents
 * from elsewhere carry none, and their readers fall back to counting.
 *
 * A cursor names its file twice, by its index in the source's reading order and by its name,
 * so a source whose file list changed (another dataset revision) fails loudly instead of
 * reading from the wrong place.
 */
import { FileFormatError } from '../errors.js';
import type { Document } from '../stream/Document.js';

export interface DocumentCursor {
  /** The file's index in the source's reading order. */
  readonly file: number;
  /** The file's name (a local file's base name, a Hub dataset's path in the repo). */
  readonly name: string;
  /** Text and JSONL files: the byte offset just after the document's last line, and the lines read to there. */
  readonly byte?: number;
  readonly line?: number;
  /** Parquet files: the row group (index in the file) and the row in it just after the document. */
  readonly group?: number;
  readonly row?: number;
}

const ends = new WeakMap<object, DocumentCursor>();

/** Tags `doc` with the cursor just after it (sources call this as they emit). */
export function markDocumentEnd<D extends Document>(doc: D, cursor: DocumentCursor): D {
  ends.set(doc, cursor);
  return doc;
}

/** The cursor just after `doc`, when its source can seek. */
export function documentEnd(doc: Document): DocumentCursor | undefined {
  return ends.get(doc);
}

export function sameCursor(a: DocumentCursor, b: DocumentCursor): boolean {
  return a.file === b.file && a.name === b.name && a.byte === b.byte && a.line === b.line && a.group === b.group && a.row === b.row;
}

const natural = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;

/** A cursor read back from JSON; `where` names its file in the error. */
export function parseDocumentCursor(v: unknown, where: string): DocumentCursor {
  const o = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const text = o && natural(o['byte']) && natural(o['line']) && o['group'] === undefined && o['row'] === undefined;
  const parquet = o && natural(o['group']) && natural(o['row']) && o['byte'] === undefined && o['line'] === undefined;
  if (!o || !natural(o['file']) || typeof o['name'] !== 'string' || !(text || parquet))
    throw new FileFormatError(`${where}: expected a document cursor {"file", "name", and "byte" + "line" or "group" + "row"}, got ${JSON.stringify(v)}`);
  const base = { file: o['file'] as number, name: o['name'] as string };
  return text ? { ...base, byte: o['byte'] as number, line: o['line'] as number } : { ...base, group: o['group'] as number, row: o['row'] as number };
}

/** The error for a cursor whose file is not where it says (the source's files changed since it was taken). */
export function cursorMismatch(source: string, c: DocumentCursor, found: string | undefined): FileFormatError {
  return new FileFormatError(
    `${source}: cannot resume at file ${c.file} "${c.name}": ${found === undefined ? 'there are fewer files' : `that file is now "${found}"`} (the documents changed since the position was taken?)`,
  );
}
