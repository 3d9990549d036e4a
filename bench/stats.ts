/** Small helpers shared by the benchmarks. */
import { spawnSync } from 'node:child_process';
import os from 'node:os';

/** Median of a non-empty list of timings. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The last JSON line (one starting with '{') of a child process's stdout, or null. */
export function lastJson(stdout: string): any {
  const lines = stdout.trim().split('\n').filter((l) => l.startsWith('{'));
  return lines.length ? JSON.parse(lines[lines.length - 1]!) : null;
}

/** MiB, to one decimal. */
export const mib = (bytes: number): number => +(bytes / 2 ** 20).toFixed(1);

/** The 1, 5 and 15 minute load averages (the machine is shared: recorded next to timings). */
export const loadavg = (): string => os.loadavg().map((v) => v.toFixed(2)).join(' ');

/** A child process's timing (at least its throughput), or why there is none. */
export type Result<T extends { tokensPerSec: number }> = T | { error: string };

export const ok = <T extends { tokensPerSec: number }>(r: Result<T> | undefined): r is T => r !== undefined && !('error' in r);

/** The fastest of several rounds' results (the least disturbed), or the first error. */
export const best = <T extends { tokensPerSec: number }>(rs: Result<T>[]): Result<T> | undefined =>
  rs.filter(ok).sort((a, b) => b.tokensPerSec - a.tokensPerSec)[0] ?? rs[0];

/**
 * Runs `cmd args` and returns the last JSON line of its stdout when it carries a numeric
 * `tokensPerSec`; otherwise an error naming `who`, its exit status, and its `skipped` reason or
 * the last stderr line that is not a stack frame.
 */
export function spawnJson<T extends { tokensPerSec: number }>(cmd: string, args: string[], who: string, cwd?: string): Result<T> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24, ...(cwd !== undefined ? { cwd } : {}) });
  const j = r.status === 0 ? lastJson(r.stdout) : null;
  if (j && typeof j.tokensPerSec === 'number') return j as T;
  const msg = r.stderr.trim().split('\n').filter((l) => !/^\s+at /.test(l)).slice(-1)[0] ?? '';
  return { error: `${who} exited ${r.status ?? r.signal}: ${j?.skipped ?? msg}` };
}

/** torch's version under `python`, or null when it does not import. */
export function torchVersion(python: string): string | null {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}
