/**
 * The browser implementation of the platform boundary (Platform.ts), substituted for node.ts by
 * the browser build (scripts/buildBrowser.mjs). No Node built-in may be imported here or from
 * anything this file imports: test/browser/bundle.test.ts checks the bundle.
 */
import type { BackendLoader, Platform, PlatformFiles } from './Platform.js';
import { posixPath } from './posixPath.js';
import { wasmBinariesUrl } from './wasmBinaries.js';

function noFileSystem(op: string, path: string): never {
  throw Object.assign(
    new Error(`${op} ${path}: a page has no file system (load folders from a URL, the Hub or dropped files: urlFolder, hubFolder, fileFolder)`),
    { code: 'ENOSYS' },
  );
}

const files: PlatformFiles = {
  exists: (p) => noFileSystem('exists', p),
  readText: (p) => noFileSystem('read', p),
  readBytes: (p) => noFileSystem('read', p),
  open: async (p) => noFileSystem('open', p),
};

/** Renderer and adapter names of software rasterisers (Chromium's SwiftShader, Mesa's llvmpipe/lavapipe, Windows' Basic Render Driver). */
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render/i;

interface GpuAdapterLike {
  readonly isFallbackAdapter?: boolean;
  readonly info?: Record<string, string>;
  requestAdapterInfo?(): Promise<Record<string, string>>;
}

async function softwareWebGpu(): Promise<string | undefined> {
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } } | undefined)?.gpu;
  const a = gpu ? await gpu.requestAdapter() : null;
  if (!a) return undefined; // loading will say there is no adapter
  const info = a.info ?? (await a.requestAdapterInfo?.()) ?? {};
  const name = ['vendor', 'architecture', 'device', 'description'].map((k) => info[k] ?? '').filter((x) => x !== '').join(' ');
  if (a.isFallbackAdapter === true || SOFTWARE.test(name)) return `software adapter (${name || 'fallback adapter'})`;
  return undefined;
}

async function softwareWebGl(): Promise<string | undefined> {
  const doc = (globalThis as { document?: { createElement(tag: 'canvas'): HTMLCanvasElement } }).document;
  const canvas = doc ? doc.createElement('canvas') : typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(1, 1) : undefined;
  const gl = (canvas?.getContext('webgl2') ?? canvas?.getContext('webgl')) as WebGLRenderingContext | null | undefined;
  if (!gl) return undefined;
  const dbg = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(dbg ? dbg.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return SOFTWARE.test(renderer) ? `software renderer (${renderer})` : undefined;
}

const backends: readonly BackendLoader[] = [
  {
    name: 'webgpu',
    package: '@tensorflow/tfjs-backend-webgpu',
    software: softwareWebGpu,
    load: async () => {
      // tfjs registers the backend even where the page has no adapter; it fails only at
      // setBackend. Asking first gives the reason a user can act on.
      const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
      if (!gpu) throw new Error('navigator.gpu is missing (no WebGPU in this browser)');
      if (!(await gpu.requestAdapter())) throw new Error('navigator.gpu.requestAdapter() found no adapter');
      await import('@tensorflow/tfjs-backend-webgpu');
      return 'webgpu';
    },
  },
  { name: 'webgl', package: '@tensorflow/tfjs-backend-webgl', software: softwareWebGl, load: async () => (await import('@tensorflow/tfjs-backend-webgl'), 'webgl') },
  {
    name: 'wasm',
    package: '@tensorflow/tfjs-backend-wasm',
    load: async () => {
      // Before the backend initialises: its binaries beside the bundle, not beside the page.
      (await import('@tensorflow/tfjs-backend-wasm')).setWasmPaths(wasmBinariesUrl());
      return 'wasm';
    },
  },
  { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', load: async () => (await import('@tensorflow/tfjs-backend-cpu'), 'cpu') },
];

function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(undefined);
  });
}

export const platform: Platform = {
  kind: 'browser',
  env: () => undefined,
  environment: () => ({}),
  homeDir: () => '/',
  yieldToEventLoop,
  onInterrupt: () => () => {},
  warn: (line) => console.warn(line),
  note: (line) => console.info(line),
  files,
  path: posixPath,
  loadNativeAddon: (name) => ({ loaded: false, reason: `no native addons in a browser (${name})` }),
  backends,
};
