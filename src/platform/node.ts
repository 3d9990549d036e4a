/**
 * The Node implementation of the platform boundary (Platform.ts): process.env, setImmediate,
 * process signals, the native addon through createRequire, and the native tfjs packages.
 */
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendLoader, NativeAddonLoad, Platform, PlatformFiles, RandomAccessFile } from './Platform.js';

/** Largest single positioned read (Node caps one read at 2 GiB - 1). */
const READ_CHUNK = 1 << 30;

async function open(file: string): Promise<RandomAccessFile> {
  const fh = await fsp.open(file, 'r');
  try {
    const st = await fh.stat();
    // open() succeeds on a folder on Linux; reading it would fail with a bare EISDIR later
    if (st.isDirectory()) throw Object.assign(new Error(`${file} is a folder`), { code: 'EISDIR' });
    return {
      size: st.size,
      async readAt(into, position) {
        let done = 0;
        while (done < into.byteLength) {
          const len = Math.min(READ_CHUNK, into.byteLength - done);
          const { bytesRead } = await fh.read(into, done, len, position + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done;
      },
      close: () => fh.close(),
    };
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
}

const files: PlatformFiles = {
  exists: (p) => existsSync(p),
  readText: (p) => readFileSync(p, 'utf8'),
  readBytes: (p) => readFileSync(p),
  open,
};

// src/platform/node.ts and dist/platform/node.js are both two levels below the package root.
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function loadNativeAddon(name: string): NativeAddonLoad {
  const file = path.join(PACKAGE_ROOT, 'build', 'Release', `${name}.node`);
  if (!existsSync(file)) return { loaded: false, reason: `addon not built (${file} missing)` };
  try {
    return { loaded: true, addon: createRequire(import.meta.url)(file) as unknown, from: file };
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);
    return { loaded: false, reason: `addon failed to load (${msg})` };
  }
}

const backends: readonly BackendLoader[] = [
  // The native packages are optional dependencies; where their install script could not
  // download libtensorflow the import fails, and selectBackend falls through to wasm.
  { name: 'tensorflow-gpu', package: '@tensorflow/tfjs-node-gpu', load: () => importNamed('@tensorflow/tfjs-node-gpu', 'tensorflow') },
  { name: 'tensorflow', package: '@tensorflow/tfjs-node', load: () => importNamed('@tensorflow/tfjs-node', 'tensorflow') },
  { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', load: async () => (await import('@tensorflow/tfjs-backend-wasm'), 'wasm') },
  { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', load: async () => (await import('@tensorflow/tfjs-backend-cpu'), 'cpu') },
];

// A variable specifier: TypeScript does not require the optional packages' types.
async function importNamed(pkg: string, tfBackend: string): Promise<string> {
  await import(pkg);
  return tfBackend;
}

export const platform: Platform = {
  kind: 'node',
  env: (name) => process.env[name],
  environment: () => process.env,
  homeDir: () => os.homedir(),
  yieldToEventLoop: () => new Promise<void>((resolve) => setImmediate(resolve)),
  onInterrupt(listener) {
    const l = (sig: NodeJS.Signals) => listener(sig);
    process.on('SIGINT', l);
    process.on('SIGTERM', l);
    return () => {
      process.off('SIGINT', l);
      process.off('SIGTERM', l);
    };
  },
  warn: (line) => void process.stderr.write(`${line}\n`),
  note: (line) => console.error(line),
  loadNativeAddon,
  files,
  path: { join: path.join, basename: path.basename, dirname: path.dirname, resolve: path.resolve },
  backends,
};
