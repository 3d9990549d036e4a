/**
 * A real Redis (Debian's redis-server) for tests, on a free loopback port, with its data in a
 * temp folder and append-only persistence (fsync always), so a restart keeps the queue as a
 * production Redis with AOF does. `redisAvailable` says why tests must skip when there is none.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const REDIS_BIN = process.env['REDIS_SERVER'] ?? 'redis-server';

/** Undefined when redis-server runs here, else why not (the skip message). */
export function redisUnavailable(): string | undefined {
  const r = spawnSync(REDIS_BIN, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `${REDIS_BIN} is not installed (apt-get install redis-server; .ci/run installs it)`;
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.end();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() - t0 > ms) throw new Error(`redis-server did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGKILL: no goodbye; the AOF holds what was acknowledged) and starts it again on the same port. */
  restart(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sae-rx-redis-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--protected-mode', 'no'], {
      stdio: 'ignore',
    });
    await waitForPort(port, 10_000);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGKILL');
    });
  };
  await start();
  // a test process killed by a timeout must not leave its server behind
  const onExit = () => proc?.kill('SIGKILL');
  process.once('exit', onExit);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    restart: async (downMs = 1000) => {
      await stop();
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    close: async () => {
      process.off('exit', onExit);
      await stop();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}
