/**
 * Token sequences (DESIGN.md §2): `n` sequences of `contextSize` token ids, row-major in
 * `tokens` (length n·contextSize). Plain arrays, no tensors.
 */
export interface TokenBatch {
  readonly tokens: Int32Array;
  readonly n: number;
  readonly contextSize: number;
}
