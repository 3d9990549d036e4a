import { withAtomicFile, writeAll } from '../atomicWrite.js';
import type { TensorInput } from './dtypes.js';
import { checkMetadata, headerBytes, prepare } from './writer.js';

/**
 * Writes a safetensors file atomically: into a temporary file beside `path`, fsynced, then
 * renamed. Tensors are downloaded and written one at a time, so the file is never held in
 * memory whole. tfjs float32 → F32, int32 → I32, bool → BOOL; use a RawTensor for other dtypes
 * (e.g. `{ dtype: 'F16', shape, data: float32Values }`). Node only (a file on disk); writer.ts
 * encodes to bytes anywhere.
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  checkMetadata(metadata);
  const items = prepare(tensors, false);
  const head = headerBytes(items, metadata);
  await withAtomicFile(path, async (fh) => {
    await writeAll(fh, head);
    for (const it of items) await writeAll(fh, await it.bytes());
  });
}
