/** Small helpers shared by the benchmarks. */

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
