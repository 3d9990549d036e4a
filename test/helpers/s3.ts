/**
 * A real S3-compatible server on loopback for tests (the npm package `s3rver`, files in a temp
 * folder), and a fault proxy in front of it that can answer 503s or drop connections for a
 * while: what a flaky object store does.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import S3rver from 's3rver';

// the SDK's notice about Node 20 support is not what these tests are about
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

export interface TestS3 {
  /** The server's own endpoint. */
  readonly endpoint: string;
  /** Environment for clients (endpoint, region, keys), pointing at `endpoint`. */
  env(endpoint?: string): Record<string, string>;
  close(): Promise<void>;
}

export const S3_TEST_KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** Starts s3rver on a free loopback port with the given buckets. */
export async function startS3(buckets: readonly string[]): Promise<TestS3> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sae-rx-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
  const info = (await server.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${info.port}`;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3_TEST_KEYS });
  for (const b of buckets) await client.send(new CreateBucketCommand({ Bucket: b }));
  client.destroy();
  return {
    endpoint,
    env: (ep = endpoint) => ({
      AWS_ENDPOINT_URL_S3: ep,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: S3_TEST_KEYS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_TEST_KEYS.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    }),
    close: async () => {
      await server.close();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

export type FaultMode = 'pass' | '503' | 'reset';

export interface FaultProxy {
  readonly endpoint: string;
  mode: FaultMode;
  /** Requests answered with a fault so far. */
  faults: number;
  /** Requests passed through. */
  passed: number;
  /** Called for each request passed through; 'hold' keeps it open, unanswered and unforwarded (a writer stuck mid-upload). */
  onRequest?: (method: string, url: string) => 'pass' | 'hold';
  /** Faults for `ms`, then passes again. */
  outage(mode: Exclude<FaultMode, 'pass'>, ms: number): Promise<void>;
  close(): Promise<void>;
}

/** An HTTP proxy to `target` that, while `mode` is not 'pass', answers 503 SlowDown or destroys the connection. */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const t = new URL(target);
  const proxy: FaultProxy = {
    endpoint: '',
    mode: 'pass',
    faults: 0,
    passed: 0,
    outage: async (mode, ms) => {
      proxy.mode = mode;
      await new Promise((r) => setTimeout(r, ms));
      proxy.mode = 'pass';
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    if (proxy.mode === '503') {
      proxy.faults++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    if (proxy.mode === 'reset') {
      proxy.faults++;
      req.socket.destroy();
      return;
    }
    if (proxy.onRequest?.(req.method ?? '', req.url ?? '') === 'hold') {
      req.resume();
      return;
    }
    proxy.passed++;
    const up = http.request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  (proxy as { endpoint: string }).endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
