/**
 * The platform boundary (DESIGN.md §1): everything sae-rx needs from its host that differs
 * between Node and a browser. Two implementations export the same `platform` object:
 * `node.ts` (what `index.ts` re-exports, so Node, tsx and tsc see it) and `browser.ts`, which the
 * browser build (scripts/buildBrowser.mjs) substitutes for `node.ts`. Code above this layer
 * imports `../platform/index.js` only, never `node.ts` or `browser.ts`, and never a Node
 * built-in when it must also run in a page (the browser bundle check fails on one).
 */

/** tfjs backends sae-rx can choose on Node, best first (DESIGN.md §4). */
export const NODE_BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
/** tfjs backends sae-rx can choose in a browser, best first. */
export const BROWSER_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof NODE_BACKENDS)[number] | (typeof BROWSER_BACKENDS)[number];

/** How to start one tfjs backend on this platform. */
export interface BackendLoader {
  readonly name: BackendName;
  /** The npm package that provides it (named in the reason when it does not start). */
  readonly package: string;
  /** Imports the package (registering the backend); resolves to the tfjs backend name to set. */
  load(): Promise<string>;
  /**
   * For a GPU backend: what emulates it in software where no GPU backs it (e.g. "software
   * adapter (SwiftShader)"), else undefined. selectBackend then tries wasm first.
   */
  software?(): Promise<string | undefined>;
}

/** A file opened for positioned reads (Node: a file handle; see Platform.files). */
export interface RandomAccessFile {
  readonly size: number;
  /** Fills `into` from `position`; returns the bytes read (fewer only where the file ends). */
  readAt(into: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Files by path. Node reads the disk; a page has no file system and every call throws an
 * error naming the path (pages load folders as objects: see src/hub/folders.ts).
 */
export interface PlatformFiles {
  exists(path: string): boolean;
  readText(path: string): string;
  readBytes(path: string): Uint8Array;
  /** Opens a file for positioned reads; rejects with the OS code (ENOENT, EISDIR…) in the message. */
  open(path: string): Promise<RandomAccessFile>;
}

/** The path functions sae-rx uses (POSIX semantics in a page). */
export interface PlatformPath {
  join(...parts: string[]): string;
  basename(p: string): string;
  dirname(p: string): string;
  resolve(...parts: string[]): string;
}

/** A native addon, or why there is none. */
export type NativeAddonLoad =
  | { readonly loaded: true; readonly addon: unknown; readonly from: string }
  | { readonly loaded: false; readonly reason: string };

export interface Platform {
  readonly kind: 'node' | 'browser';
  /** A setting from the environment (Node: process.env; a page has none: undefined). */
  env(name: string): string | undefined;
  /** All of the environment (Node: process.env; a page: empty). */
  environment(): Readonly<Record<string, string | undefined>>;
  /** The user's home folder (Node: os.homedir(); a page: '/', where nothing is ever read). */
  homeDir(): string;
  /**
   * Resolves after pending I/O and timers had a turn (Node: setImmediate; a page: a
   * MessageChannel message, which is not throttled like setTimeout(0)).
   */
  yieldToEventLoop(): Promise<void>;
  /**
   * Calls `listener` on SIGINT/SIGTERM (Node) — a page has no signals, so nothing is
   * registered there. Returns the function that removes the listener.
   */
  onInterrupt(listener: (signal: string) => void): () => void;
  /** Writes one warning line (Node: to stderr; a page: console.warn). */
  warn(line: string): void;
  /** Writes one line of diagnostics, such as the backend chosen (Node: to stderr; a page: console.info). */
  note(line: string): void;
  /** Loads `build/Release/<name>.node` of this package (Node), or says why not (a page: never). */
  loadNativeAddon(name: string): NativeAddonLoad;
  readonly files: PlatformFiles;
  readonly path: PlatformPath;
  /** The tfjs backends of this platform, in order of preference. */
  readonly backends: readonly BackendLoader[];
}
