/**
 * `sae-rx worker` processes for tests: each a real child process (node bin/sae-rx.js worker),
 * its output collected, killable with SIGKILL at a chosen moment (a line it prints).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { BIN, REPO } from '../cli/helpers.js';

export interface WorkerProcess {
  readonly proc: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** Complete lines so far, each with when it arrived (Date.now()): job timelines for the bench. */
  timedLines(): ReadonlyArray<{ readonly at: number; readonly line: string }>;
  /** Resolves when a line matches (rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  kill9(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

export function spawnWorker(queue: string, env: Record<string, string>, extra: readonly string[] = [], nodeFlags: readonly string[] = []): WorkerProcess {
  const proc = spawn(process.execPath, [...nodeFlags, BIN, 'worker', '--queue', queue, '--lock-seconds', '5', ...extra], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let partial = '';
  const timed: Array<{ at: number; line: string }> = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    for (const line of parts) timed.push({ at: Date.now(), line });
    for (const w of [...waiters]) {
      const m = out.split('\n').find((l) => w.re.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const onExit = () => proc.kill('SIGKILL');
  process.once('exit', onExit);
  const exited = new Promise<void>((r) => proc.once('exit', () => (process.off('exit', onExit), r())));
  return {
    proc,
    output: () => out,
    timedLines: () => timed,
    waitFor: (re, ms = 240_000) =>
      new Promise((resolve, reject) => {
        const m = out.split('\n').find((l) => re.test(l));
        if (m !== undefined) return resolve(m);
        const timer = setTimeout(() => reject(new Error(`worker never printed ${re} within ${ms} ms; output:\n${out}`)), ms);
        waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      }),
    kill9: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
