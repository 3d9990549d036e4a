/**
 * What the W&B sink holds until W&B acknowledges it: history lines (one per logged step, in
 * order, bounded: the oldest unsent lines are dropped first, counted, and warned about once) and
 * the run summary (the latest value of every metric). Rows logged for one step (several SAEs, a
 * step and its eval) are merged into one line, as `wandb.log(step=)` merges them.
 */
import type { FileStreamBody } from './client.js';
import { HISTORY_FILE, SUMMARY_FILE } from './client.js';
import type { HistoryRow } from './records.js';
import type { WandbClock } from './options.js';

/** One request's worth of the queue. */
export interface HistoryBatch {
  readonly body: FileStreamBody;
  /** History lines it carries, from the head of the queue. */
  readonly lines: number;
  /** The summary it carries, if it changed since last sent. */
  readonly summary?: string;
}

export class HistoryQueue {
  private lines: string[] = [];
  /** Lines at the head being sent: not dropped by the bound while in flight. */
  private inflight = 0;
  /** History lines W&B holds (a resumed run continues after them). */
  offset = 0;
  sentLines = 0;
  droppedLines = 0;
  private warnedDrop = false;
  private readonly summary: Record<string, unknown> = {};
  private summaryDirty = false;
  private pendingRow: { step: number; row: HistoryRow } | null = null;

  constructor(
    private readonly maxBuffered: number,
    private readonly clock: WandbClock,
    private readonly startMs: number,
    private readonly warn: (m: string) => void,
  ) {}

  /** Adds `row` at `step`; returns true when an earlier step's row became a line (send it). */
  addRow(step: number, row: HistoryRow): boolean {
    if (Object.keys(row).length === 0) return false;
    const emitted = this.pendingRow !== null && this.pendingRow.step !== step && this.closeRow();
    if (!this.pendingRow) this.pendingRow = { step, row: {} };
    Object.assign(this.pendingRow.row, row);
    return emitted;
  }

  /** The step of the row still open for merging, if any. */
  openStep(): number | undefined {
    return this.pendingRow?.step;
  }

  /** Turns the open row into a history line (nothing more joins it); true if there was one. */
  closeRow(): boolean {
    if (!this.pendingRow) return false;
    const nowMs = this.clock.now();
    const row = { ...this.pendingRow.row, _step: this.pendingRow.step, _runtime: (nowMs - this.startMs) / 1000, _timestamp: nowMs / 1000 };
    this.pendingRow = null;
    this.lines.push(JSON.stringify(row));
    this.trim();
    Object.assign(this.summary, row);
    this.summaryDirty = true;
    return true;
  }

  hasWork(): boolean {
    return this.lines.length > 0 || this.summaryDirty;
  }

  /** Lines not yet acknowledged, the open row included. */
  pendingLines(): number {
    return this.lines.length + (this.pendingRow ? 1 : 0);
  }

  /** The next request: up to `maxLines` lines from the head, and the summary if it changed. Marks the lines in flight. */
  take(maxLines: number): HistoryBatch {
    const lines = Math.min(this.lines.length, maxLines);
    const files: NonNullable<FileStreamBody['files']> = {};
    if (lines > 0) files[HISTORY_FILE] = { offset: this.offset, content: this.lines.slice(0, lines) };
    const summary = this.summaryDirty ? JSON.stringify(this.summary) : undefined;
    if (summary !== undefined) files[SUMMARY_FILE] = { offset: 0, content: [summary] };
    this.inflight = lines;
    return { body: { files }, lines, ...(summary !== undefined ? { summary } : {}) };
  }

  /** W&B acknowledged `batch`: drop exactly what it carried (the queue may have grown meanwhile). */
  acknowledged(batch: HistoryBatch): void {
    this.inflight = 0;
    this.lines.splice(0, batch.lines);
    this.offset += batch.lines;
    this.sentLines += batch.lines;
    if (batch.summary !== undefined && batch.summary === JSON.stringify(this.summary)) this.summaryDirty = false;
  }

  /** `batch` was not sent after all: its lines count against the bound again. */
  unsent(): void {
    this.inflight = 0;
    this.trim();
  }

  /** The sink stopped: everything unsent is dropped (and counted). */
  dropAll(): void {
    this.droppedLines += this.lines.length;
    this.lines = [];
    this.inflight = 0;
    this.summaryDirty = false;
  }

  private trim(): void {
    const excess = this.lines.length - this.inflight - this.maxBuffered;
    if (excess <= 0) return;
    // Drop the oldest lines not in flight: the newest tell where training is now.
    this.lines.splice(this.inflight, excess);
    this.droppedLines += excess;
    if (!this.warnedDrop) {
      this.warnedDrop = true;
      this.warn(`W&B is behind: buffer of ${this.maxBuffered} history lines is full, dropping the oldest (${this.droppedLines} dropped so far; the total is reported on close)`);
    }
  }
}
