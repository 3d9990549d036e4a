import type { FileHandle } from 'node:fs/promises';

/** Largest single positioned read (Node caps one read at 2 GiB - 1). */
const READ_CHUNK = 1 << 30;

/**
 * Fills `into` from `position` with positioned reads (a read may return fewer bytes than
 * asked, and one read is capped at 2 GiB). Returns the bytes read: less than `into.byteLength`
 * only when the file ended first; the caller says what that means.
 */
export async function readAt(fh: FileHandle, into: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < into.byteLength) {
    const len = Math.min(READ_CHUNK, into.byteLength - done);
    const { bytesRead } = await fh.read(into, done, len, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}
