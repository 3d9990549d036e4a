/**
 * Whether a folder can be written, asked before a long job starts: creating it (and its
 * parents) and a probe file in it, removed again. Fails with the system's reason (EACCES,
 * EROFS, ENOTDIR, ENOSPC …) and the folder's name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SaeRxError } from '../errors.js';

export function assertWritableFolder(dir: string, what = 'output folder'): void {
  const probe = path.join(dir, `.sae-rx-write-probe-${process.pid}`);
  try {
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw Object.assign(new Error('a file is there, not a folder'), { code: 'ENOTDIR' });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code === 'ENOTDIR' ? 'a file is in the way of the path' : code === 'ENOSPC' ? 'no space left' : (e as Error).message;
    throw new SaeRxError(`${what} ${dir} cannot be written: ${why}${code ? ` (${code})` : ''}`, { cause: e });
  }
}
