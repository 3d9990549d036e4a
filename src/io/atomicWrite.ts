/**
 * Atomic writes: a file or a folder appears under its final name complete or not at all.
 *
 * Files are written under a temporary name in the same directory (so the final `rename` stays
 * on one filesystem and is atomic), flushed with `fsync`, then renamed over the target; the
 * directory itself is fsynced afterwards (best effort) so the rename survives a power cut.
 * A crash at any point leaves at most a stray `.<name>.tmp-*` beside the target, never a half
 * file under the final name.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';

/** A temporary name beside `target`: hidden, unique per process and call. */
export function tempSibling(target: string, tag = 'tmp'): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** fsync a directory so a rename inside it is durable; some platforms refuse, which is fine. */
async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    /* directories cannot be opened/fsynced on every platform (Windows); the rename still happened */
  } finally {
    await fh?.close().catch(() => {});
  }
}

/**
 * Opens a temporary file beside `target`, lets `write` fill it through the handle, then
 * fsyncs, closes and renames it to `target`. On any error the temporary file is removed and
 * the target (if it existed) is left untouched. Used for large files written piecewise.
 */
export async function withAtomicFile(
  target: string,
  write: (fh: FileHandle) => Promise<void>,
): Promise<void> {
  const tmp = tempSibling(target);
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, 'wx');
    await write(fh);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.rename(tmp, target);
  } catch (e) {
    await fh?.close().catch(() => {});
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  await fsyncDir(path.dirname(target));
}

/** Writes `data` to `path` atomically (temp file + fsync + rename). */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  await withAtomicFile(target, async (fh) => {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    await writeAll(fh, bytes);
  });
}

/** Writes every byte of `bytes` at the handle's current position (fh.write may write less). */
export async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.byteLength - off);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten}`);
    off += bytesWritten;
  }
}

/** fsync every regular file under `dir` (recursively) and the directories themselves. */
async function fsyncTree(dir: string): Promise<void> {
  for (const ent of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) await fsyncTree(p);
    else if (ent.isFile()) {
      const fh = await fsp.open(p, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  }
  await fsyncDir(dir);
}

/**
 * Builds a folder atomically: `fill` writes into a fresh temporary folder beside `finalDir`;
 * once it resolves, every file is fsynced and the folder is renamed to `finalDir`.
 *
 * If `finalDir` already exists it is replaced only after the new folder is complete: the old
 * one is first renamed aside (`.<name>.old-*`), the new one renamed in, then the old one
 * removed. POSIX has no atomic swap of non-empty directories, so a crash between those two
 * renames leaves no `finalDir` but both complete folders beside it (never a half one).
 * If `fill` throws, the temporary folder is removed and `finalDir` is untouched.
 */
export async function writeDirAtomic(
  finalDir: string,
  fill: (tmpDir: string) => Promise<void>,
): Promise<void> {
  const parent = path.dirname(path.resolve(finalDir));
  await fsp.mkdir(parent, { recursive: true });
  const tmp = tempSibling(path.resolve(finalDir));
  await fsp.mkdir(tmp);
  try {
    await fill(tmp);
    await fsyncTree(tmp);
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
  let old: string | undefined;
  try {
    await fsp.rename(tmp, finalDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR' && code !== 'EPERM') {
      await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
      throw e;
    }
    old = tempSibling(path.resolve(finalDir), 'old');
    await fsp.rename(finalDir, old);
    try {
      await fsp.rename(tmp, finalDir);
    } catch (e2) {
      // put the previous folder back so a failed replace changes nothing
      await fsp.rename(old, finalDir).catch(() => {});
      await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
      throw e2;
    }
  }
  await fsyncDir(parent);
  if (old) await fsp.rm(old, { recursive: true, force: true });
}

/** fsync a directory, synchronously (best effort, as `fsyncDir`). */
function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* not on every platform; the rename still happened */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** fsync every regular file under `dir` (recursively) and the directories, synchronously. */
function fsyncTreeSync(dir: string): void {
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) fsyncTreeSync(p);
    else if (ent.isFile()) {
      const fd = fs.openSync(p, 'r+');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  fsyncDirSync(dir);
}

/**
 * `writeDirAtomic` done synchronously: `fill` writes into a fresh temporary folder beside
 * `finalDir`; every file is fsynced and the folder renamed into place (an existing `finalDir`
 * is replaced as `writeDirAtomic` does). When this returns the folder is on disk: a process
 * killed at any later point keeps it. For writes that must be durable at a known point of a
 * computation that does not yield to the event loop (training checkpoints).
 */
export function writeDirAtomicSync(finalDir: string, fill: (tmpDir: string) => void): void {
  const parent = path.dirname(path.resolve(finalDir));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = tempSibling(path.resolve(finalDir));
  fs.mkdirSync(tmp);
  try {
    fill(tmp);
    fsyncTreeSync(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  let old: string | undefined;
  try {
    fs.renameSync(tmp, finalDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR' && code !== 'EPERM') {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    old = tempSibling(path.resolve(finalDir), 'old');
    fs.renameSync(finalDir, old);
    try {
      fs.renameSync(tmp, finalDir);
    } catch (e2) {
      // put the previous folder back so a failed replace changes nothing
      try {
        fs.renameSync(old, finalDir);
      } catch {
        /* both complete folders stay beside each other; nothing is lost */
      }
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e2;
    }
  }
  fsyncDirSync(parent);
  if (old) fs.rmSync(old, { recursive: true, force: true });
}
