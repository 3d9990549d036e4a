import cliProgress from 'cli-progress';
import type { Observer } from 'rxjs';
import type { TrainEvent } from '../stream/TrainEvent.js';

export interface ConsoleSinkOptions {
  /** Total steps of the run (for the bar, percentage and ETA); without it, a counter. */
  readonly totalSteps?: number;
  /** Where to write (default process.stderr). */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Plain periodic lines instead of a bar (default: when the stream is not a TTY). */
  readonly plain?: boolean;
  /** Interval of plain lines in ms (default 10 000); the last state is printed on done. */
  readonly intervalMs?: number;
}

const fmt = (x: number) => (Number.isFinite(x) ? (Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : x.toPrecision(4)) : String(x));
const dur = (s: number) => {
  if (!Number.isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
};

/**
 * Training progress on stderr: a cli-progress bar with step, tokens/s, loss, L0 and ETA when
 * the stream is a TTY, plain periodic lines otherwise. Follows the first SAE it hears of (a
 * sweep's SAEs step together). Warnings, checkpoints and done records are printed as lines.
 */
export function consoleSink(opts: ConsoleSinkOptions = {}): Observer<TrainEvent> & { readonly name: string } {
  const stream = opts.stream ?? process.stderr;
  const plain = opts.plain ?? !stream.isTTY;
  const intervalMs = opts.intervalMs ?? 10_000;
  const total = opts.totalSteps;
  const t0 = Date.now();
  let lead: string | undefined;
  let first = { time: t0, tokens: 0, step: 0 };
  let lastPrint = 0;
  let state = { step: 0, tokens: 0, loss: NaN, l0: NaN, tps: 0 };
  let bar: cliProgress.SingleBar | undefined;
  const line = (s: string) => {
    if (bar) {
      // cli-progress redraws the bar; a log line goes above it.
      bar.stop();
      stream.write(s + '\n');
      bar = undefined;
    } else stream.write(s + '\n');
  };
  const eta = () => {
    const done = state.step - first.step;
    if (!total || done <= 0) return '?';
    const el = (Date.now() - first.time) / 1000;
    return dur((el / done) * (total - state.step - 1));
  };
  const describe = () =>
    `step ${state.step + 1}${total ? `/${total}` : ''} | ${Math.round(state.tps)} tokens/s trained | loss ${fmt(state.loss)} | L0 ${fmt(state.l0)} | ETA ${eta()}`;
  const ensureBar = () => {
    if (plain || bar) return;
    bar = new cliProgress.SingleBar(
      {
        stream: stream as NodeJS.WritableStream,
        format: total ? '{bar} {percentage}% | {info}' : '{info}',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
        noTTYOutput: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total ?? 0, state.step, { info: describe() });
  };
  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    name: 'console',
    next: (r: TrainEvent) => {
      switch (r.type) {
        case 'step': {
          if (lead === undefined) {
            lead = r.saeId;
            // rates count from the first record (a resumed run starts with tokens > 0)
            first = { time: Date.now(), tokens: r.tokens, step: r.step };
          }
          if (r.saeId !== lead) return;
          const el = (Date.now() - first.time) / 1000;
          state = { step: r.step, tokens: r.tokens, loss: r.losses.total, l0: r.l0, tps: el > 0 ? (r.tokens - first.tokens) / el : 0 };
          if (plain) {
            const now = Date.now();
            if (now - lastPrint >= intervalMs) {
              lastPrint = now;
              stream.write(describe() + '\n');
            }
          } else {
            ensureBar();
            bar!.update(r.step + 1, { info: describe() });
          }
          return;
        }
        case 'warning':
          line(`WARNING [${r.saeId} step ${r.step}]: ${r.message}`);
          return;
        case 'checkpoint':
          line(`checkpoint [${r.saeId}] step ${r.step}, ${r.tokens} tokens → ${r.path}`);
          return;
        case 'done':
          if (r.saeId === lead || lead === undefined) {
            stopBar();
            if (plain) stream.write(describe() + '\n');
          }
          line(`done [${r.saeId}] ${r.step} steps, ${r.tokens} tokens in ${dur((Date.now() - t0) / 1000)}${r.path ? ` → ${r.path}` : ''}`);
          return;
        case 'eval':
          line(`eval [${r.saeId}] step ${r.step}: ${Object.entries(r.metrics).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}`);
          return;
      }
    },
    error: (e: unknown) => {
      stopBar();
      stream.write(`training failed: ${e instanceof Error ? e.message : String(e)}\n`);
    },
    complete: () => stopBar(),
  };
}
