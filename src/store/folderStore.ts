/**
 * A store in a local or shared folder (NFS, a mounted volume): keys are paths under the root.
 * Writes go to a hidden temporary sibling, are fsynced and renamed (io/atomicWrite), so a
 * reader on any machine sees a whole file or none; hidden names are never listed as keys.
 * Transient errors of network filesystems (EIO on a flaky mount is not transient; ESTALE and
 * EAGAIN are) are retried with backoff.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomicWrite.js';
import { type Store, StoreError, StoreNotFoundError, checkKey } from './Store.js';
import { type RetryOptions, withRetry } from './retry.js';

const FS_TRANSIENT = new Set(['ESTALE', 'EAGAIN', 'EBUSY']);

export class FolderStore implements Store {
  readonly root: string;
  constructor(
    root: string,
    private readonly retry: RetryOptions = {},
  ) {
    this.root = path.resolve(root);
  }

  get url(): string {
    return this.root;
  }

  localPath(key: string): string {
    return path.join(this.root, ...checkKey(key).split('/'));
  }

  private run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(what, async () => {
      try {
        return await fn();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // the retry helper retries errors it knows as transient; tag the network-filesystem ones
        if (code && FS_TRANSIENT.has(code)) throw Object.assign(new Error((e as Error).message), { code: 'ETIMEDOUT', cause: e });
        throw e;
      }
    }, this.retry);
  }

  async put(key: string, data: Uint8Array | string): Promise<void> {
    const p = this.localPath(key);
    await this.run(`write ${p}`, async () => {
      await fsp.mkdir(path.dirname(p), { recursive: true });
      await writeFileAtomic(p, data);
    });
  }

  async get(key: string): Promise<Uint8Array> {
    const p = this.localPath(key);
    try {
      return new Uint8Array(await this.run(`read ${p}`, () => fsp.readFile(p)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreNotFoundError(`${p}: not in the store`, { cause: e });
      throw new StoreError(`${p}: cannot read (${(e as Error).message})`, { cause: e });
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const p = this.localPath(key);
    return this.run(`read ${p}`, async () => {
      let fh;
      try {
        fh = await fsp.open(p, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreNotFoundError(`${p}: not in the store`, { cause: e });
        throw e;
      }
      try {
        const out = new Uint8Array(end - start);
        let off = 0;
        while (off < out.length) {
          const { bytesRead } = await fh.read(out, off, out.length - off, start + off);
          if (bytesRead === 0) throw new StoreError(`${p}: ends before byte ${end} (read ${start + off})`);
          off += bytesRead;
        }
        return out;
      } finally {
        await fh.close();
      }
    });
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await fsp.stat(this.localPath(key))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    // the folder holding the prefix; keys are then filtered by the whole prefix
    const cut = prefix.lastIndexOf('/');
    const dirKey = cut >= 0 ? prefix.slice(0, cut) : '';
    const start = dirKey === '' ? this.root : this.localPath(dirKey);
    const walk = async (dir: string, rel: string): Promise<void> => {
      let ents;
      try {
        ents = await fsp.readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw e;
      }
      for (const ent of ents) {
        if (ent.name.startsWith('.')) continue; // temporary files of writes in progress
        const k = rel === '' ? ent.name : `${rel}/${ent.name}`;
        if (ent.isDirectory()) {
          if (k.startsWith(prefix) || prefix.startsWith(k + '/')) await walk(path.join(dir, ent.name), k);
        } else if (k.startsWith(prefix)) out.push(k);
      }
    };
    await walk(start, dirKey);
    return out.sort();
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const k of keys) await fsp.rm(this.localPath(k), { force: true });
  }

  async move(from: string, to: string): Promise<void> {
    const a = this.localPath(from);
    const b = this.localPath(to);
    await fsp.mkdir(path.dirname(b), { recursive: true });
    try {
      await fsp.rename(a, b);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreNotFoundError(`${a}: not in the store (moving to ${b})`, { cause: e });
      throw e;
    }
  }

  async close(): Promise<void> {}
}
