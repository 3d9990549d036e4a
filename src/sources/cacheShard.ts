/**
 * One shard of an activation cache, as rows in memory, and its bytes: the one codec the cache
 * runner, the distributed shard and shuffle jobs and the `cachedActivations` reader share.
 *
 * A shard is a safetensors file with `activations` `[tokens, hooks, d_in]` (SAELens v1.5's
 * layout) and, for a transcoder cache, `target` `[tokens, d_out]`: the output hook's
 * activations of the same tokens, row i of both from the same token. Every row operation here
 * (permute, join, split) moves both with one index, so the pairs stay pairs.
 */
import { FileFormatError } from '../errors.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import { HOST_LE, type TensorInput } from '../io/safetensors/dtypes.js';
import { headerBytes } from '../io/safetensors/writer.js';

export const CACHE_TENSOR = 'activations';
export const CACHE_TARGET_TENSOR = 'target';

export interface CacheShardRows {
  /** Rows (tokens). */
  readonly n: number;
  readonly hooks: number;
  readonly dIn: number;
  /** n × hooks × dIn, row-major. */
  readonly acts: Float32Array;
  /** Transcoder caches: n × dOut, row-major, row i the target of acts' row i. */
  readonly target?: { readonly dOut: number; readonly rows: Float32Array };
}

/** The safetensors bytes of a shard. */
export function encodeCacheShard(s: CacheShardRows): Uint8Array {
  const tensors: Record<string, TensorInput> = { [CACHE_TENSOR]: { dtype: 'F32', shape: [s.n, s.hooks, s.dIn], data: s.acts } };
  if (s.target) tensors[CACHE_TARGET_TENSOR] = { dtype: 'F32', shape: [s.n, s.target.dOut], data: s.target.rows };
  return encodeSafetensors(tensors);
}

/** A shard from its bytes (`source` names it in errors); a `target` without as many rows is an error. */
export function decodeCacheShard(bytes: Uint8Array, source: string): CacheShardRows {
  const st = decodeSafetensors(bytes, source);
  if (!st.has(CACHE_TENSOR)) throw new FileFormatError(`${source}: no "${CACHE_TENSOR}" tensor (has ${st.names().join(', ')})`);
  const shape = st.info(CACHE_TENSOR).shape;
  const [n, hooks, dIn] = shape.length === 2 ? [shape[0]!, 1, shape[1]!] : shape.length === 3 ? (shape as [number, number, number]) : [NaN, NaN, NaN];
  if (!Number.isInteger(n)) throw new FileFormatError(`${source}: "${CACHE_TENSOR}" has shape [${shape}], expected [tokens, hooks, d_in]`);
  // float32() already returns a copy of its bytes (the shard's own memory, not a view of `bytes`)
  const out: CacheShardRows = { n, hooks, dIn, acts: st.float32(CACHE_TENSOR) };
  if (!st.has(CACHE_TARGET_TENSOR)) return out;
  const ts = st.info(CACHE_TARGET_TENSOR).shape;
  if (ts.length !== 2 || ts[0] !== n) throw new FileFormatError(`${source}: "${CACHE_TARGET_TENSOR}" has shape [${ts}], expected [${n}, d_out] (one row per "${CACHE_TENSOR}" row)`);
  return { ...out, target: { dOut: ts[1]!, rows: st.float32(CACHE_TARGET_TENSOR) } };
}

/**
 * The bytes of `permuteShard(s, perm)`, the rows gathered straight into the file's bytes: one
 * pass and no intermediate arrays. `reuse` (a buffer from an earlier shard, free again) is
 * written into when it is large enough, so a worker's steady state allocates no shard-sized
 * memory: fresh multi-MB buffers cost page faults and the full GCs V8 runs for external memory,
 * measured as a tenth of a tiny model's shard job. The result may be a view of `reuse`.
 */
export function encodePermutedCacheShard(s: CacheShardRows, perm: Int32Array, reuse?: Uint8Array): Uint8Array {
  if (!HOST_LE) return encodeCacheShard(permuteShard(s, perm));
  return encodeGathered(s, perm.length, (src, rowLen, out) => permuteRows(src(s), perm, rowLen, out), reuse);
}

/**
 * The bytes of a shard shaped like `like` with `n` rows, each tensor's rows written by `fill`
 * straight into the file's bytes (`src` picks that tensor's rows of a source shard). `reuse`
 * as in encodePermutedCacheShard. Little-endian hosts only (callers fall back otherwise).
 */
function encodeGathered(
  like: CacheShardRows,
  n: number,
  fill: (src: (s: CacheShardRows) => Float32Array, rowLen: number, out: Float32Array) => void,
  reuse?: Uint8Array,
): Uint8Array {
  const parts: Array<{ name: string; shape: number[]; src: (s: CacheShardRows) => Float32Array; rowLen: number }> = [
    { name: CACHE_TENSOR, shape: [n, like.hooks, like.dIn], src: (s) => s.acts, rowLen: like.hooks * like.dIn },
  ];
  if (like.target) parts.push({ name: CACHE_TARGET_TENSOR, shape: [n, like.target.dOut], src: (s) => s.target!.rows, rowLen: like.target.dOut });
  // encodeSafetensors' order: by element size, then name (both F32 here)
  parts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const head = headerBytes(parts.map((p) => ({ name: p.name, dtype: 'F32', shape: p.shape, byteLength: n * p.rowLen * 4, bytes: () => new Uint8Array(0) })), undefined);
  const total = head.byteLength + parts.reduce((a, p) => a + n * p.rowLen * 4, 0);
  // Float32Array views need 4-byte alignment: the header is 8 + a multiple of 8 bytes
  const out = reuse && reuse.byteLength >= total && reuse.byteOffset % 4 === 0 ? reuse.subarray(0, total) : new Uint8Array(total);
  out.set(head, 0);
  let pos = head.byteLength;
  for (const p of parts) {
    fill(p.src, p.rowLen, new Float32Array(out.buffer, out.byteOffset + pos, n * p.rowLen));
    pos += n * p.rowLen * 4;
  }
  return out;
}

/** Rows of `src` (each `rowLen` long) in the order `perm`, into `out` (default: a new array). */
export function permuteRows(src: Float32Array, perm: Int32Array, rowLen: number, out: Float32Array = new Float32Array(perm.length * rowLen)): Float32Array {
  for (let i = 0; i < perm.length; i++) out.set(src.subarray(perm[i]! * rowLen, (perm[i]! + 1) * rowLen), i * rowLen);
  return out;
}

/** The shard's rows in the order `perm` (acts and target with the same permutation). */
export function permuteShard(s: CacheShardRows, perm: Int32Array): CacheShardRows {
  const out: CacheShardRows = { n: perm.length, hooks: s.hooks, dIn: s.dIn, acts: permuteRows(s.acts, perm, s.hooks * s.dIn) };
  return s.target ? { ...out, target: { dOut: s.target.dOut, rows: permuteRows(s.target.rows, perm, s.target.dOut) } } : out;
}

/** Rows [start, end) of a shard (views, no copy). */
export function shardRows(s: CacheShardRows, start: number, end: number): CacheShardRows {
  const rowLen = s.hooks * s.dIn;
  const out: CacheShardRows = { n: end - start, hooks: s.hooks, dIn: s.dIn, acts: s.acts.subarray(start * rowLen, end * rowLen) };
  return s.target ? { ...out, target: { dOut: s.target.dOut, rows: s.target.rows.subarray(start * s.target.dOut, end * s.target.dOut) } } : out;
}

/**
 * SAELens's pairwise shuffle of two shards: their rows concatenated, permuted with `perm`
 * (a permutation of na + nb) and split back at the same sizes.
 */
export function pairwiseShuffle(a: CacheShardRows, b: CacheShardRows, perm: Int32Array, source: string): [CacheShardRows, CacheShardRows] {
  checkPair(a, b, source);
  const joint = (x: Float32Array, y: Float32Array) => {
    const j = new Float32Array(x.length + y.length);
    j.set(x, 0);
    j.set(y, x.length);
    return j;
  };
  const both: CacheShardRows = {
    n: a.n + b.n, hooks: a.hooks, dIn: a.dIn, acts: joint(a.acts, b.acts),
    ...(a.target ? { target: { dOut: a.target.dOut, rows: joint(a.target.rows, b.target!.rows) } } : {}),
  };
  const mixed = permuteShard(both, perm);
  return [shardRows(mixed, 0, a.n), shardRows(mixed, a.n, a.n + b.n)];
}

function checkPair(a: CacheShardRows, b: CacheShardRows, source: string): void {
  if (a.hooks !== b.hooks || a.dIn !== b.dIn || !!a.target !== !!b.target || (a.target && a.target.dOut !== b.target!.dOut))
    throw new FileFormatError(`${source}: two shards of one cache differ in shape ([${a.hooks}, ${a.dIn}]${a.target ? ` + target ${a.target.dOut}` : ''} vs [${b.hooks}, ${b.dIn}]${b.target ? ` + target ${b.target.dOut}` : ''})`);
}

/**
 * The bytes of pairwiseShuffle's two shards, each row gathered from `a` or `b` straight into
 * its output file's bytes: no joined copy, no permuted copy, no encoding copy (a shuffle pass
 * of two 25 MB shards otherwise makes ~200 MB of fresh copies, page faults each).
 */
export function encodePairwiseShuffled(a: CacheShardRows, b: CacheShardRows, perm: Int32Array, source: string): [Uint8Array, Uint8Array] {
  checkPair(a, b, source);
  if (perm.length !== a.n + b.n) throw new FileFormatError(`${source}: a permutation of ${perm.length} rows for shards of ${a.n} + ${b.n}`);
  if (!HOST_LE) {
    const [ma, mb] = pairwiseShuffle(a, b, perm, source);
    return [encodeCacheShard(ma), encodeCacheShard(mb)];
  }
  // output rows [from, from + n) of the joint order: joint row r is a's row r, or b's row r - a.n
  const half = (from: number, n: number) =>
    encodeGathered(a, n, (src, rowLen, out) => {
      const sa = src(a);
      const sb = src(b);
      for (let i = 0; i < n; i++) {
        const r = perm[from + i]!;
        const row = r < a.n ? sa.subarray(r * rowLen, (r + 1) * rowLen) : sb.subarray((r - a.n) * rowLen, (r - a.n + 1) * rowLen);
        out.set(row, i * rowLen);
      }
    });
  return [half(0, a.n), half(a.n, b.n)];
}
