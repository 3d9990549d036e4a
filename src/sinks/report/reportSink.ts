/**
 * A sink that keeps the training records it sees and writes the HTML report when the stream
 * ends: on complete, and on error with what it has (the error shown in a banner). Optionally it
 * also rewrites the report during training, so it can be watched. Writes are atomic (temp file
 * + rename) and a failed write only warns: a sink never kills training.
 */
import type { Observer } from 'rxjs';
import { writeFileAtomic } from '../../io/atomicWrite.js';
import type { TrainEvent } from '../../stream/TrainEvent.js';
import { type FeatureLogDensity, renderReport } from './renderReport.js';

export interface ReportSinkOptions {
  readonly title?: string;
  /** The runner config, shown in the report. */
  readonly config?: unknown;
  /** log10 feature frequencies, or a function asked when the final report is written. */
  readonly featureLogDensity?: FeatureLogDensity | (() => FeatureLogDensity | undefined | Promise<FeatureLogDensity | undefined>);
  /** Also rewrite the report during training, at most this often (ms). Off by default. */
  readonly refreshEveryMs?: number;
  /** Where warnings go (default console.warn). */
  readonly log?: (message: string) => void;
}

export interface ReportSink extends Partial<Observer<TrainEvent>> {
  /** For `sinks()` warnings. */
  readonly name: string;
  /** Resolves when the final report has been written (true) or failed to write (false, warned). */
  readonly written: Promise<boolean>;
  /** The records collected so far. */
  readonly records: readonly TrainEvent[];
}

/**
 * Collects records and writes `path` (an .html file) on complete and on error.
 * @example trainSae(cfg)(batches).subscribe(reportSink('runs/x/report.html'))
 */
export function reportSink(path: string, options: ReportSinkOptions = {}): ReportSink {
  const records: TrainEvent[] = [];
  const log = options.log ?? ((m: string) => console.warn(m));
  let resolveWritten!: (ok: boolean) => void;
  const written = new Promise<boolean>((r) => (resolveWritten = r));
  let chain: Promise<unknown> = Promise.resolve(); // writes in order, one at a time
  let inFlight = false;
  let lastWrite = Date.now();
  let finished = false;

  const write = (error: string | undefined, final: boolean): Promise<boolean> => {
    inFlight = true;
    const p = chain.then(async () => {
      try {
        let density = options.featureLogDensity;
        if (typeof density === 'function') density = final ? await density() : undefined;
        const html = renderReport({
          records,
          ...(options.config !== undefined ? { config: options.config } : {}),
          ...(density ? { featureLogDensity: density } : {}),
          ...(options.title !== undefined ? { title: options.title } : {}),
          ...(error !== undefined ? { error } : {}),
        });
        await writeFileAtomic(path, html);
        return true;
      } catch (e) {
        log(`reportSink: could not write ${path}: ${e instanceof Error ? e.message : String(e)}`);
        return false;
      } finally {
        inFlight = false;
        lastWrite = Date.now();
      }
    });
    chain = p;
    return p;
  };
  const finish = (error: string | undefined) => {
    if (finished) return;
    finished = true;
    void write(error, true).then(resolveWritten);
  };

  return {
    name: `report ${path}`,
    written,
    records,
    next: (e: TrainEvent) => {
      if (finished) return;
      records.push(e);
      const every = options.refreshEveryMs;
      if (every !== undefined && !inFlight && Date.now() - lastWrite >= every) void write(undefined, false);
    },
    error: (err: unknown) => finish(err instanceof Error ? `${err.name}: ${err.message}` : String(err)),
    complete: () => finish(undefined),
  };
}
