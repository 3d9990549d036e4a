import { type CheckpointContent, type SaeFolderWriter, writeCheckpoint } from '../../train/checkpointWriter.js';

export type CheckpointKind = 'checkpoint' | 'final' | 'interrupt';

/**
 * Checkpoint writes of one subscription, one at a time, in order. A write takes a snapshot
 * (plain arrays), so writing never holds tensors. Intermediate checkpoints are skipped, loudly,
 * when `maxPending` writes are already waiting; final and interrupt ones never are.
 */
export class CheckpointQueue {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(
    private readonly writer: SaeFolderWriter,
    private readonly maxPending: number,
  ) {}

  /** Whether an intermediate checkpoint would be skipped now; the writes still pending. */
  full(): number | false {
    return this.pending >= this.maxPending ? this.pending : false;
  }

  /** Queues the write of `content` to `dir`; `written` or `failed` is called when it is done. */
  enqueue(dir: string, content: CheckpointContent, on: { written: () => void; failed: (e: unknown) => void }): void {
    this.pending++;
    this.chain = this.chain.then(async () => {
      try {
        await writeCheckpoint(dir, content, this.writer);
        on.written();
      } catch (e) {
        on.failed(e);
      } finally {
        this.pending--;
      }
    });
  }

  /** Resolves once every queued write is done. */
  settled(): Promise<void> {
    return this.chain;
  }
}
