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
 * Paced by `fromPull`: nothing is read ahead of a synchronous consumer.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { Observable } from 'rxjs';
import { ConfigError, FileFormatError } from '../errors.js';
import { type Document } from '../stream/Document.js';
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

async function* textDocuments(file: string, mode: 'paragraphs' | 'lines' | 'file'): AsyncGenerator<Document> {
  if (mode === 'file') {
    const text = await fsp.readFile(file, 'utf8');
    if (text.length > 0) yield { text };
    return;
  }
  const stream = createReadStream(file, { encoding: 'utf8' });
  const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
  try {
    let para: string[] = [];
    for await (const line of lines) {
      if (mode === 'lines') {
        if (line.trim() !== '') yield { text: line };
        continue;
      }
      if (line.trim() === '') {
        if (para.length > 0) yield { text: para.join('\n') };
        para = [];
      } else {
        para.push(line);
      }
    }
    if (para.length > 0) yield { text: para.join('\n') };
  } finally {
    lines.close();
    stream.destroy();
  }
}

async function* jsonlDocuments(file: string, column: string | undefined): AsyncGenerator<Document> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new FileFormatError(`${file}:${n}: not valid JSON (${(e as Error).message})`);
      }
      const doc = jsonToDocument(obj, column, `${file}:${n}`);
      if (doc) yield doc;
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}

/** The documents of one local file, by extension. */
export function fileDocuments(file: string, opts: LocalDocumentsOptions & { rand?: () => number } = {}): AsyncGenerator<Document> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return parquetDocuments(file, { ...(opts.column ? { column: opts.column } : {}), ...(opts.rand ? { rand: opts.rand } : {}) });
  if (ext === '.jsonl') return jsonlDocuments(file, opts.column);
  if (ext === '.txt') return textDocuments(file, opts.txt ?? 'paragraphs');
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
  return fromPull(async function* () {
    let files = await collectFiles(inputs);
    if (files.length === 0) throw new FileFormatError(`localDocuments: no .txt, .jsonl or .parquet files in ${inputs.join(', ')}`);
    const rand = opts.shuffleSeed !== undefined ? seededRandom(opts.shuffleSeed) : undefined;
    if (rand) files = seededShuffle(files, rand);
    for (const f of files) yield* fileDocuments(f, { ...opts, ...(rand ? { rand } : {}) });
  });
}
