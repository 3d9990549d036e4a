/**
 * A folder of files read by name, wherever it lives: on disk by path (Node), at a URL, in files
 * dropped into a page, or in memory. Model, tokenizer and SAE loaders read through it, so a page
 * loads the same SAELens / Hugging Face folders as Node. The Hub's folder is src/hub/hubFolder.ts.
 */
import { FileFormatError } from '../errors.js';
import { platform, type RandomAccessFile } from '../platform/index.js';

export interface Folder {
  /** Where it is, for messages: a path, a URL, `dropped files`. */
  readonly label: string;
  has(name: string): Promise<boolean>;
  /** The file's bytes; FileFormatError naming `label/name` when it cannot be read. */
  bytes(name: string): Promise<Uint8Array>;
  /** Positioned reads without reading the file whole, where the folder can (on disk). */
  open?(name: string): Promise<RandomAccessFile>;
}

/** A file of the folder for positioned reads: `open` where it has it, else its bytes in memory. */
export async function folderFile(folder: Folder, name: string): Promise<RandomAccessFile> {
  return folder.open ? folder.open(name) : bytesFile(await folder.bytes(name));
}

/** `label/name`, as errors name a file of a folder. */
export function folderPath(folder: Folder, name: string): string {
  return `${folder.label.replace(/\/+$/, '')}/${name}`;
}

/** The file as UTF-8 text. */
export async function folderText(folder: Folder, name: string): Promise<string> {
  return new TextDecoder().decode(await folder.bytes(name));
}

/** The file as a JSON object; FileFormatError naming it otherwise. */
export async function folderJson(folder: Folder, name: string): Promise<Record<string, unknown>> {
  const text = await folderText(folder, name);
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new FileFormatError(`${folderPath(folder, name)}: invalid JSON (${(e as Error).message})`, { cause: e });
  }
}

/** Bytes in memory as a RandomAccessFile (for SafetensorsFile.open over a folder's file). */
export function bytesFile(bytes: Uint8Array): RandomAccessFile {
  return {
    size: bytes.byteLength,
    async readAt(into, position) {
      const n = Math.max(0, Math.min(into.byteLength, bytes.byteLength - position));
      into.set(bytes.subarray(position, position + n));
      return n;
    },
    close: async () => {},
  };
}

/** A folder on disk, through the platform's files (Node; in a page every read throws). */
export function diskFolder(dir: string): Folder {
  return {
    label: dir,
    has: async (name) => platform.files.exists(platform.path.join(dir, name)),
    async bytes(name) {
      const p = platform.path.join(dir, name);
      try {
        return platform.files.readBytes(p);
      } catch (e) {
        throw new FileFormatError(`${p}: cannot read (${(e as { code?: string }).code ?? (e as Error).message})`, { cause: e });
      }
    },
    open: (name) => platform.files.open(platform.path.join(dir, name)),
  };
}

/**
 * A folder at a URL (`base` ends in a folder; relative to the page when the page has one): each
 * file is one GET of `base/name`. `has` asks with HEAD. `fetch` defaults to the global one.
 */
export function urlFolder(base: string | URL, opts: { fetch?: typeof fetch } = {}): Folder {
  const root = new URL(String(base).replace(/\/*$/, '/'), (globalThis as { location?: { href: string } }).location?.href);
  const get = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const label = root.href;
  return {
    label,
    async has(name) {
      const r = await get(new URL(name, root), { method: 'HEAD' });
      return r.ok;
    },
    async bytes(name) {
      const url = new URL(name, root);
      let r: Response;
      try {
        r = await get(url);
      } catch (e) {
        throw new FileFormatError(`${url.href}: cannot fetch (${(e as Error).message})`, { cause: e });
      }
      if (!r.ok) throw new FileFormatError(`${url.href}: HTTP ${r.status}${r.status === 404 ? ' (no such file)' : ''}`);
      return new Uint8Array(await r.arrayBuffer());
    },
  };
}

/** The part of a File the folder needs (a browser File, or anything Blob-like with a name). */
export interface NamedBlob {
  readonly name: string;
  /** Set for files of a dropped or chosen folder (`folder/sub/file`). */
  readonly webkitRelativePath?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * Files dropped into a page or chosen with `<input type=file webkitdirectory>`, as one folder:
 * each file by its name (its path below the chosen folder when it has one).
 */
export function fileFolder(files: Iterable<NamedBlob> | ArrayLike<NamedBlob>, label = 'dropped files'): Folder {
  const byName = new Map<string, NamedBlob>();
  for (const f of Array.from(files as ArrayLike<NamedBlob>)) {
    const rel = f.webkitRelativePath ? f.webkitRelativePath.split('/').slice(1).join('/') : '';
    byName.set(rel || f.name, f);
  }
  return {
    label,
    has: async (name) => byName.has(name),
    async bytes(name) {
      const f = byName.get(name);
      if (!f) throw new FileFormatError(`${label}/${name}: not among the files (${[...byName.keys()].sort().join(', ') || 'none'})`);
      return new Uint8Array(await f.arrayBuffer());
    },
  };
}

/** Files held in memory (name → bytes or text). */
export function memoryFolder(files: Readonly<Record<string, Uint8Array | string>>, label = 'memory'): Folder {
  return {
    label,
    has: async (name) => Object.prototype.hasOwnProperty.call(files, name),
    async bytes(name) {
      const v = files[name];
      if (v === undefined) throw new FileFormatError(`${label}/${name}: no such file`);
      return typeof v === 'string' ? new TextEncoder().encode(v) : v;
    },
  };
}
