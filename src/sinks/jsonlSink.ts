import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Observer } from 'rxjs';
import type { TrainEvent } from '../stream/TrainEvent.js';

export interface JsonlSinkOptions {
  /** Flush buffered lines at least this often (ms, default 500) and on complete/error/exit. */
  readonly flushMs?: number;
  /** Also flush when this many lines are buffered (default 256). */
  readonly maxBuffered?: number;
}

/**
 * Appends each record as one JSON line to `file` (the folder is created). Records are plain
 * JSON, so `readRecords(file)` (report area) gives them back unchanged. Lines are buffered briefly and written
 * synchronously (on complete, error and process exit too), so an interrupted run keeps its log.
 * An error record of the stream itself is written as `{"type":"error","message":…}`.
 */
export function jsonlSink(file: string, opts: JsonlSinkOptions = {}): Observer<TrainEvent> & { readonly name: string } {
  const flushMs = opts.flushMs ?? 500;
  const maxBuffered = opts.maxBuffered ?? 256;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let buf: string[] = [];
  let last = Date.now();
  const flush = () => {
    if (buf.length === 0) return;
    const text = buf.join('');
    buf = [];
    last = Date.now();
    fs.appendFileSync(file, text);
  };
  const onExit = () => flush();
  process.on('exit', onExit);
  const close = () => {
    process.off('exit', onExit);
    flush();
  };
  return {
    name: `jsonl ${file}`,
    next: (r: TrainEvent) => {
      buf.push(JSON.stringify(r) + '\n');
      if (buf.length >= maxBuffered || Date.now() - last >= flushMs || r.type !== 'step') flush();
    },
    error: (e: unknown) => {
      buf.push(JSON.stringify({ type: 'error', message: e instanceof Error ? e.message : String(e) }) + '\n');
      close();
    },
    complete: close,
  };
}
