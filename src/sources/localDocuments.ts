/**
 * Documents from local files: `.txt`, `.jsonl`, `.parquet`, one file or a folder of them.
 *
 * - `.txt`: by default one document per paragraph (lines up to a blank line), read as a stream,
 *   so a large text file is never held whole; `txt: 'file'` makes the whole file one document,
 *   `txt: 'lines'` one document per non-empty line. Paragraphs are the default because the
 *   usual local corpora (books, plays, speeches) have no other document boundary, and a BOS
 *   token per paragraph is closer to how the web-text datasets SAEs train on are split.
 * - `.jsonl`: one JSON object per line, field `column` or else the first of `tokens`,
 *   `input_ids`, `text`.
 * - `.parquet`: row group by row group, column as above.
 *
 * A folder is read recursively, files in name order; `shuffleSeed` instead gives a seeded
 * random order of files and of parquet row groups (a coarse shuffle: order within a file and
 * row group is kept, a mixing buffer downstream does the fine shuffling).
 *
 * In the plain order every document carries the cursor just after it (`documentEnd`: the file,
 * and its byte offset and line, or its parquet row group and row), and `from` resumes there
 * without reading what comes before (how distributed cache jobs reach their shard's start).
 * Text and JSONL lines are split by this file's own reader (readline's rule: `\n`, `\r\n` or a
 * lone `\r`), which knows the byte offsets readline does not give.
 *
 * Paced by `fromPull`: nothing is read ahead of a synchronous consumer.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Observable } from 'rxjs';
import { ConfigError, FileFormatError } from '../errors.js';
import { type Document } from '../stream/Document.js';
import { type DocumentCursor, cursorMismatch, markDocumentEnd } from './documentCursor.js';
import { jsonToDocument, parquetDocuments } from './documents.js';
import { seededRandom, seededShuffle } from '../stream/rng.js';
import { fromPull } from './fromPull.js';

export interface LocalDocumentsOptions {
  /** field/column to read (default: tokens, input_ids, then text) */
  column?: string;
  /** how `.txt` files split into documents (default `paragraphs`) */
  txt?: 'paragraphs' | 'lines' | 'file';
  /** seeded random order of files and parquet row groups (default: name order) */
  shuffleSeed?: number;
  /**
   * Resume just after the document this cursor was taken from (`documentEnd` of a document
   * these same files gave; not with `shuffleSeed`).
   */
  from?: DocumentCursor;
}

/** A file's place in the reading order, for the cursors of its documents. */
interface FilePlace {
  readonly file: number;
  readonly name: string;
}

const EXTENSIONS = ['.txt', '.jsonl', '.parquet'];

async function collectFiles(inputs: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string, top: boolean): Promise<void> => {
    let st;
    try {
      st = await fsp.stat(p);
    } catch (e) {
      throw new FileFormatError(`localDocuments: cannot read ${p} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
    }
    if (st.isDirectory()) {
      const names = (await fsp.readdir(p)).filter((n) => !n.startsWith('.')).sort();
      for (const n of names) await walk(path.join(p, n), false);
    } else if (EXTENSIONS.includes(path.extname(p).toLowerCase())) {
      out.push(p);
    } else if (top) {
      throw new ConfigError(`localDocuments: ${p} is not a .txt, .jsonl or .parquet file`);
    }
  };
  for (const p of inputs) await walk(p, true);
  return out;
}

interface TextLine {
  readonly text: string;
  /** The byte offset just after the line's terminator. */
  readonly end: number;
  /** Its number (1-based). */
  readonly line: number;
}

/**
 * The lines of a text file from byte `from.byte` on, a chunk's worth at a time, each with the
 * byte offset just after its terminator and its number: readline's lines (`\n`, `\r\n` and a
 * lone `\r` end a line, a last line without a terminator counts), with offsets it cannot give.
 */
async function* textLines(file: string, from: { byte: number; line: number }): AsyncGenerator<TextLine[]> {
  // one buffer, refilled in place: a fresh buffer per chunk cost more in GC and page faults
  // than the splitting itself
  const fh = await fsp.open(file, 'r');
  let buf = Buffer.allocUnsafe(1 << 18);
  let filled = 0; // unread bytes in buf[0, filled), starting at file offset `base`
  let base = from.byte;
  let line = from.line;
  let eof = false;
  try {
    while (!eof) {
      if (filled === buf.length) buf = Buffer.concat([buf, Buffer.allocUnsafe(buf.length)]); // a line longer than the buffer
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, base + filled);
      filled += bytesRead;
      eof = bytesRead === 0;
      const out: TextLine[] = [];
      let start = 0;
      let lf = nextIn(buf, 10, 0, filled);
      let cr = nextIn(buf, 13, 0, filled);
      while (lf >= 0 || cr >= 0) {
        let k = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf;
        // a \r as the last byte read may be the first half of \r\n: wait for more (unless the file ended)
        if (k === cr && k + 1 === filled && !eof) break;
        const stop = k;
        if (k === cr && k + 1 < filled && buf[k + 1] === 10) k++;
        out.push({ text: buf.toString('utf8', start, stop), end: base + k + 1, line: ++line });
        start = k + 1;
        if (lf >= 0 && lf < start) lf = nextIn(buf, 10, start, filled);
        if (cr >= 0 && cr < start) cr = nextIn(buf, 13, start, filled);
      }
      if (eof && start < filled) {
        // the last line, without a terminator
        out.push({ text: buf.toString('utf8', start, filled), end: base + filled, line: ++line });
        start = filled;
      }
      buf.copyWithin(0, start, filled);
      filled -= start;
      base += start;
      if (out.length > 0) yield out;
    }
  } finally {
    await fh.close();
  }
}

/** The first `byte` in buf[from, end), or -1. */
function nextIn(buf: Buffer, byte: number, from: number, end: number): number {
  const k = buf.indexOf(byte, from);
  return k >= 0 && k < end ? k : -1;
}

/** `doc`, with its cursor when its file has a place in a resumable order. */
const marked = <D extends Document>(doc: D, place: FilePlace | undefined, at: { byte: number; line: number }): D =>
  place ? markDocumentEnd(doc, { file: place.file, name: place.name, byte: at.byte, line: at.line }) : doc;

async function* textDocuments(file: string, mode: 'paragraphs' | 'lines' | 'file', place: FilePlace | undefined, from?: DocumentCursor): AsyncGenerator<Document> {
  if (mode === 'file') {
    // the whole file is the one document: a cursor after it (byte > 0) skips the file
    if ((from?.byte ?? 0) > 0) return;
    const text = await fsp.readFile(file, 'utf8');
    if (text.length > 0) yield marked({ text }, place, { byte: Buffer.byteLength(text), line: 0 });
    return;
  }
  let para: string[] = [];
  let paraEnd = { byte: 0, line: 0 };
  for await (const lines of textLines(file, { byte: from?.byte ?? 0, line: from?.line ?? 0 })) for (const l of lines) {
    if (mode === 'lines') {
      if (l.text.trim() !== '') yield marked({ text: l.text }, place, { byte: l.end, line: l.line });
      continue;
    }
    if (l.text.trim() === '') {
      if (para.length > 0) yield marked({ text: para.join('\n') }, place, paraEnd);
      para = [];
    } else {
      para.push(l.text);
      paraEnd = { byte: l.end, line: l.line };
    }
  }
  if (para.length > 0) yield marked({ text: para.join('\n') }, place, paraEnd);
}

async function* jsonlDocuments(file: string, column: string | undefined, place: FilePlace | undefined, from?: DocumentCursor): AsyncGenerator<Document> {
  for await (const lines of textLines(file, { byte: from?.byte ?? 0, line: from?.line ?? 0 })) for (const l of lines) {
    if (l.text.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(l.text);
    } catch (e) {
      throw new FileFormatError(`${file}:${l.line}: not valid JSON (${(e as Error).message})`);
    }
    const doc = jsonToDocument(obj, column, `${file}:${l.line}`);
    if (doc) yield marked(doc, place, { byte: l.end, line: l.line });
  }
}

/**
 * The documents of one local file, by extension; with `place` (its index in the reading order,
 * and name) they carry their cursors, and `from` resumes inside it.
 */
export function fileDocuments(
  file: string,
  opts: LocalDocumentsOptions & { rand?: () => number; place?: FilePlace } = {},
): AsyncGenerator<Document> {
  const ext = path.extname(file).toLowerCase();
  const place = opts.place;
  if (ext === '.parquet')
    return parquetDocuments(file, { ...(opts.column ? { column: opts.column } : {}), ...(opts.rand ? { rand: opts.rand } : {}), ...(place ? { place } : {}), ...(opts.from ? { from: opts.from } : {}) });
  if (ext === '.jsonl') return jsonlDocuments(file, opts.column, place, opts.from);
  if (ext === '.txt') return textDocuments(file, opts.txt ?? 'paragraphs', place, opts.from);
  throw new ConfigError(`localDocuments: ${file} is not a .txt, .jsonl or .parquet file`);
}

/**
 * A cold Observable of the documents in `paths` (files or folders). Each subscription reads
 * the files again from the start.
 */
export function localDocuments(paths: string | string[], opts: LocalDocumentsOptions = {}): Observable<Document> {
  const inputs = Array.isArray(paths) ? paths : [paths];
  if (inputs.length === 0) throw new ConfigError('localDocuments: no paths given');
  if (opts.txt !== undefined && !['paragraphs', 'lines', 'file'].includes(opts.txt)) {
    throw new ConfigError(`localDocuments: txt must be "paragraphs", "lines" or "file", got ${JSON.stringify(opts.txt)}`);
  }
  if (opts.from && opts.shuffleSeed !== undefined) throw new ConfigError('localDocuments: from (a cursor) cannot resume a shuffled order (shuffleSeed)');
  return fromPull(async function* () {
    let files = await collectFiles(inputs);
    if (files.length === 0) throw new FileFormatError(`localDocuments: no .txt, .jsonl or .parquet files in ${inputs.join(', ')}`);
    const rand = opts.shuffleSeed !== undefined ? seededRandom(opts.shuffleSeed) : undefined;
    if (rand) files = seededShuffle(files, rand);
    const from = opts.from;
    if (from && path.basename(files[from.file] ?? '') !== from.name) throw cursorMismatch(`localDocuments(${inputs.join(', ')})`, from, files[from.file] && path.basename(files[from.file]!));
    const { from: _, ...rest } = opts;
    for (let k = from?.file ?? 0; k < files.length; k++) {
      const f = files[k]!;
      // a shuffled order cannot be resumed: its documents carry no cursors
      yield* fileDocuments(f, { ...rest, ...(rand ? { rand } : { place: { file: k, name: path.basename(f) } }), ...(from && k === from.file ? { from } : {}) });
    }
  });
}
