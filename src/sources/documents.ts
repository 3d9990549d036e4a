/**
 * Documents: what dataset sources emit before tokenization/packing. A tokenized dataset gives
 * token ids, a text dataset gives text; `packContext` (or a tokenizer stage) turns either into
 * fixed-size TokenBatches.
 */
import { FileFormatError } from '../errors.js';
import { DOCUMENT_COLUMNS, type ParquetInput, ParquetFile, toTokenArray, toText } from '../io/parquet.js';
import type { Document } from '../stream/Document.js';
import { seededShuffle } from '../stream/rng.js';
import { type DocumentCursor, markDocumentEnd } from './documentCursor.js';

/** The document a cell of `column` holds; null cells give undefined (skipped by callers). */
export function cellToDocument(value: unknown, column: string, where: string): Document | undefined {
  if (value === null || value === undefined) return undefined;
  if (column === 'text' || typeof value === 'string') return { text: toText(value, where) };
  return { tokens: toTokenArray(value, where) };
}

/**
 * Documents of one parquet file, row group by row group (in a seeded random order of row
 * groups when `rand` is given). One row group of one column is in memory at a time; the file
 * is closed when the iteration ends, early or not. In the plain order, each document carries
 * its cursor (`place` names the file) and `from` resumes after one: the row groups before it
 * are not read.
 */
export async function* parquetDocuments(
  file: ParquetInput,
  opts: { column?: string; rand?: () => number; label?: string; place?: { file: number; name: string }; from?: DocumentCursor } = {},
): AsyncGenerator<Document> {
  const label = opts.label ?? (typeof file === 'string' ? file : '<parquet>');
  if (opts.from && (opts.rand || opts.from.group === undefined || opts.from.row === undefined))
    throw new FileFormatError(`parquet ${label}: cannot resume at ${JSON.stringify(opts.from)} (${opts.rand ? 'a shuffled order' : 'not a parquet position'})`);
  const pq = await ParquetFile.open(file, label);
  try {
    const column = pq.documentColumn(opts.column);
    const rowGroups = pq.rowGroups(); // a fresh copy per call: once, not per group
    const groups = rowGroups.map((g) => g.index);
    const order = opts.rand ? seededShuffle(groups, opts.rand) : groups;
    const place = opts.rand ? undefined : opts.place;
    for (const g of order) {
      if (opts.from && g < opts.from.group!) continue;
      const cells = await pq.readRowGroup(g, column);
      const first = rowGroups[g]!.rowStart;
      for (let i = opts.from && g === opts.from.group ? opts.from.row! : 0; i < cells.length; i++) {
        const doc = cellToDocument(cells[i], column, `parquet ${label}, column "${column}", row ${first + i}`);
        if (doc) yield place ? markDocumentEnd(doc, { ...place, group: g, row: i + 1 }) : doc;
      }
    }
  } finally {
    await pq.close();
  }
}

/** Checks a JSONL record and returns its document, naming file and line on error. */
export function jsonToDocument(obj: unknown, column: string | undefined, where: string): Document | undefined {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new FileFormatError(`${where}: expected a JSON object per line`);
  }
  const rec = obj as Record<string, unknown>;
  const col = column ?? DOCUMENT_COLUMNS.find((c) => c in rec);
  if (col === undefined || !(col in rec)) {
    throw new FileFormatError(`${where}: no field ${column ? `"${column}"` : '"tokens", "input_ids" or "text"'} (fields: ${Object.keys(rec).join(', ')})`);
  }
  return cellToDocument(rec[col], col, `${where}, field "${col}"`);
}
