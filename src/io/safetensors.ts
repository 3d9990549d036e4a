/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * u64 header length N, N bytes of JSON (`{name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__": {str: str}}`, padded with spaces), then the tensor bytes, little-endian,
 * offsets relative to the start of the data section.
 *
 * - `SafetensorsFile` opens a file, parses and validates only the header, and reads each tensor
 *   on demand with positioned reads: a multi-GB file is never read whole.
 * - `decodeSafetensors` / `encodeSafetensors` do the same for bytes in memory.
 * - `writeSafetensors` writes a file atomically (temp file + fsync + rename), tensor by tensor.
 *
 * Validation follows the reference implementation: the header must be a JSON object, every
 * entry's byte length must equal prod(shape) × element size, the entries must tile the data
 * section exactly (no overlap, no gap, nothing past the end, nothing left over). Every error
 * is a FileFormatError naming the file (or "<bytes>") and the tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { FileFormatError, ShapeError } from '../errors.js';
import { withAtomicFile, writeAll } from './atomicWrite.js';
import { readAt } from './readAt.js';

/** Element types of the format. F8 types are read (converted to float32) but not written. */
export type SafetensorsDtype =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8'
  | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

const ELEMENT_SIZE: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

/** Bytes per element of a safetensors dtype. */
export function dtypeSize(dtype: SafetensorsDtype): number {
  return ELEMENT_SIZE[dtype];
}

export function isSafetensorsDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(ELEMENT_SIZE, s);
}

/** Where one tensor lives; `byteOffset` is absolute in the file (header included). */
export interface SafetensorsInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  byteOffset: number;
  byteLength: number;
}

/** The typed array `readTyped` returns: the dtype's own storage (F16/BF16/F8 as raw bits). */
export type SafetensorsTypedArray =
  | Float64Array | Float32Array
  | BigInt64Array | Int32Array | Int16Array | Int8Array
  | BigUint64Array | Uint32Array | Uint16Array | Uint8Array;

/** A tensor given to the writer without tfjs: raw storage or values to convert. */
export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /**
   * Either the dtype's own storage (Float32Array for F32, Uint16Array bits for F16/BF16,
   * BigInt64Array for I64, Uint8Array for U8/BOOL, ...) taken as is, or values of another
   * numeric kind (Float32Array, Float64Array, Int32Array, number[]) converted to the dtype:
   * floats to F16/BF16 round to nearest even, integers are range-checked.
   */
  data: ArrayBufferView | ArrayLike<number>;
}

export type TensorInput = tf.Tensor | RawTensor;

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** The reference implementation refuses headers over 100 MB; so do we (a corrupt length is usually huge). */
export const MAX_HEADER_BYTES = 100_000_000;

// ---------------------------------------------------------------------------------------------
// header parsing

interface ParsedHeader {
  headerLength: number; // N (without the 8 length bytes)
  metadata: Record<string, string>;
  entries: Map<string, SafetensorsInfo>;
}

function fail(source: string, msg: string): never {
  throw new FileFormatError(`safetensors ${source}: ${msg}`);
}

/** Reads N from the first 8 bytes and checks it against the total size. */
function parseHeaderLength(first8: Uint8Array, totalSize: number, source: string): number {
  if (totalSize < 8) fail(source, `truncated file: ${totalSize} bytes, need at least 8 for the header length`);
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(source, `header length ${n} is absurd (limit ${MAX_HEADER_BYTES} bytes); not a safetensors file?`);
  const len = Number(n);
  if (len < 2) fail(source, `header length ${len} is too small for a JSON object`);
  if (8 + len > totalSize) fail(source, `header length ${len} runs past the end of the file (${totalSize} bytes): truncated file?`);
  return len;
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Parses and validates the JSON header against a data section of `dataLength` bytes. */
function parseHeaderJson(json: Uint8Array, headerLength: number, dataLength: number, source: string): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    fail(source, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(source, `header does not start with '{' (got ${JSON.stringify(text.slice(0, 16))})`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    fail(source, `header is not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(source, 'header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries = new Map<string, SafetensorsInfo>();
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(source, '"__metadata__" must be an object of strings');
      for (const [k, mv] of Object.entries(v as Record<string, unknown>)) {
        if (typeof mv !== 'string') fail(source, `"__metadata__"."${k}" must be a string, got ${typeof mv}`);
        metadata[k] = mv;
      }
      continue;
    }
    const where = `tensor "${name}"`;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(source, `${where}: entry is not an object`);
    const e = v as Record<string, unknown>;
    if (!isSafetensorsDtype(e.dtype)) fail(source, `${where}: unknown dtype ${JSON.stringify(e.dtype)}`);
    const dtype = e.dtype;
    if (!Array.isArray(e.shape) || !e.shape.every(isNonNegInt)) fail(source, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(e.shape)}`);
    const shape = e.shape as number[];
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isNonNegInt)) fail(source, `${where}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offs)}`);
    const [begin, end] = offs as [number, number];
    if (end < begin) fail(source, `${where}: data_offsets [${begin}, ${end}] end before begin`);
    let count = 1;
    for (const d of shape) count *= d;
    const want = count * ELEMENT_SIZE[dtype];
    if (!Number.isSafeInteger(want) || want !== end - begin) {
      fail(source, `${where}: shape [${shape}] of ${dtype} needs ${want} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    if (end > dataLength) fail(source, `${where}: data_offsets [${begin}, ${end}] run past the end of the file (data section is ${dataLength} bytes): truncated file?`);
    entries.set(name, { dtype, shape: [...shape], byteOffset: 8 + headerLength + begin, byteLength: end - begin });
    spans.push({ name, begin, end });
  }
  // The entries must tile [0, dataLength) exactly, as in the reference implementation.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = '';
  for (const s of spans) {
    if (s.begin < pos) fail(source, `tensor "${s.name}": data_offsets [${s.begin}, ${s.end}] overlap tensor "${prev}" (which ends at ${pos})`);
    if (s.begin > pos) fail(source, `tensor "${s.name}": gap of ${s.begin - pos} bytes before it (data_offsets start at ${s.begin}, previous data ends at ${pos}${prev ? ` with tensor "${prev}"` : ''})`);
    pos = s.end;
    prev = s.name;
  }
  if (pos !== dataLength) fail(source, `${dataLength - pos} bytes after the last tensor${prev ? ` ("${prev}")` : ''}: data section is ${dataLength} bytes but tensors cover ${pos}`);
  return { headerLength, metadata, entries };
}

// ---------------------------------------------------------------------------------------------
// conversions

let F16_TABLE: Float32Array | undefined;
/** float32 value of each of the 65536 f16 bit patterns (built once, 256 KB). */
function f16Table(): Float32Array {
  if (F16_TABLE) return F16_TABLE;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16BitsToNumber(h);
  F16_TABLE = t;
  return t;
}

/** The value of an IEEE half-precision bit pattern. */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 → f16 bits, rounding to nearest even; overflow → ±Inf, NaN stays NaN. */
export function numberToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const b = u32Scratch[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal half (or zero): value = m · 2^(e-14) units of 2^-24
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) r++; // a carry into the exponent is correct (up to Inf)
  return sign | r;
}

/** float32 → bf16 bits (the top half of the float32), rounding to nearest even. */
export function numberToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const b = u32Scratch[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return (b >>> 16) | 0x40; // keep NaN a NaN
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

function f8e4m3ToNumber(v: number): number {
  // "fn" variant (as in torch.float8_e4m3fn): bias 7, no infinities, S.1111.111 is NaN
  const sign = v & 0x80 ? -1 : 1;
  const exp = (v >> 3) & 0xf;
  const mant = v & 7;
  if (exp === 0xf && mant === 7) return NaN;
  if (exp === 0) return sign * mant * 2 ** -9;
  return sign * (1 + mant / 8) * 2 ** (exp - 7);
}

/**
 * `bytes` viewed as the dtype's storage. A view into someone else's buffer is copied first
 * (which also guarantees alignment); `owned` bytes (a fresh buffer just read for this tensor,
 * at offset 0) are viewed as they are, byte-swapped in place on a big-endian host.
 */
function typedFromBytes(dtype: SafetensorsDtype, bytes: Uint8Array, owned = false): SafetensorsTypedArray {
  const size = ELEMENT_SIZE[dtype];
  const own = owned ? bytes : new Uint8Array(bytes); // a copy (Buffer#slice would be a view)
  if (!HOST_LE && size > 1) {
    for (let i = 0; i < own.length; i += size) own.subarray(i, i + size).reverse();
  }
  const buf = own.buffer;
  const off = own.byteOffset;
  const n = own.byteLength / size;
  switch (dtype) {
    case 'F64': return new Float64Array(buf, off, n);
    case 'F32': return new Float32Array(buf, off, n);
    case 'F16': case 'BF16': case 'U16': return new Uint16Array(buf, off, n);
    case 'I64': return new BigInt64Array(buf, off, n);
    case 'U64': return new BigUint64Array(buf, off, n);
    case 'I32': return new Int32Array(buf, off, n);
    case 'U32': return new Uint32Array(buf, off, n);
    case 'I16': return new Int16Array(buf, off, n);
    case 'I8': return new Int8Array(buf, off, n);
    case 'U8': case 'BOOL': case 'F8_E4M3': case 'F8_E5M2': return own;
  }
}

/** Any dtype's values as float32 (F16/BF16/F8 decoded, integers and F64 rounded to float32). */
function float32FromTyped(dtype: SafetensorsDtype, a: SafetensorsTypedArray): Float32Array {
  switch (dtype) {
    case 'F32': return a as Float32Array;
    case 'F16': {
      const t = f16Table();
      const src = a as Uint16Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
      return out;
    }
    case 'BF16': {
      const src = a as Uint16Array;
      const out = new Float32Array(src.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
      return out;
    }
    case 'F8_E5M2': {
      // e5m2 is the top byte of an f16
      const t = f16Table();
      const src = a as Uint8Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = t[src[i]! << 8]!;
      return out;
    }
    case 'F8_E4M3': {
      const src = a as Uint8Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = f8e4m3ToNumber(src[i]!);
      return out;
    }
    case 'I64': case 'U64': {
      const src = a as BigInt64Array | BigUint64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!);
      return out;
    }
    default:
      return Float32Array.from(a as ArrayLike<number>);
  }
}

/** Integer dtypes as int32 for tfjs; 64/32-bit unsigned values out of int32 range are an error. */
function int32FromTyped(dtype: SafetensorsDtype, a: SafetensorsTypedArray, source: string, name: string): Int32Array {
  if (dtype === 'I32') return a as Int32Array;
  if (dtype === 'I64' || dtype === 'U64') {
    const src = a as BigInt64Array | BigUint64Array;
    const out = new Int32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = src[i]!;
      if (v > 2147483647n || v < -2147483648n) {
        fail(source, `tensor "${name}": ${dtype} value ${v} at flat index ${i} does not fit in int32`);
      }
      out[i] = Number(v);
    }
    return out;
  }
  if (dtype === 'U32') {
    const src = a as Uint32Array;
    for (let i = 0; i < src.length; i++) {
      if (src[i]! > 2147483647) fail(source, `tensor "${name}": U32 value ${src[i]} at flat index ${i} does not fit in int32`);
    }
    return new Int32Array(src.buffer, src.byteOffset, src.length);
  }
  return Int32Array.from(a as ArrayLike<number>);
}

function isFloatDtype(d: SafetensorsDtype): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16' || d === 'F8_E4M3' || d === 'F8_E5M2';
}

function tensorFromTyped(info: SafetensorsInfo, a: SafetensorsTypedArray, source: string, name: string): tf.Tensor {
  if (isFloatDtype(info.dtype)) return tf.tensor(float32FromTyped(info.dtype, a), info.shape, 'float32');
  return tf.tensor(int32FromTyped(info.dtype, a, source, name), info.shape, 'int32');
}

// ---------------------------------------------------------------------------------------------
// reading from memory

/** The header side shared by the file reader and the in-memory decoder. */
abstract class SafetensorsIndex {
  protected constructor(
    protected readonly header: ParsedHeader,
    /** the path, or a label for in-memory bytes (used in error messages) */
    readonly source: string,
  ) {}

  /** The `__metadata__` strings (empty object when the file has none). */
  get metadata(): Record<string, string> {
    return this.header.metadata;
  }
  /** Tensor names in header order. */
  names(): string[] {
    return [...this.header.entries.keys()];
  }
  has(name: string): boolean {
    return this.header.entries.has(name);
  }
  info(name: string): SafetensorsInfo {
    const i = this.header.entries.get(name);
    if (!i) throw new FileFormatError(`safetensors ${this.source}: no tensor "${name}" (has ${listNames(this.names())})`);
    return { ...i, shape: [...i.shape] };
  }
}

/** A safetensors buffer decoded in memory; tensor accessors are synchronous. */
export class DecodedSafetensors extends SafetensorsIndex {
  /** @internal */
  constructor(
    private readonly bytes: Uint8Array,
    header: ParsedHeader,
    source: string,
  ) {
    super(header, source);
  }

  /** The raw little-endian bytes (a view into the decoded buffer, not a copy). */
  bytesOf(name: string): Uint8Array {
    const i = this.info(name);
    return this.bytes.subarray(i.byteOffset, i.byteOffset + i.byteLength);
  }
  typed(name: string): SafetensorsTypedArray {
    return typedFromBytes(this.info(name).dtype, this.bytesOf(name));
  }
  float32(name: string): Float32Array {
    const i = this.info(name);
    return float32FromTyped(i.dtype, typedFromBytes(i.dtype, this.bytesOf(name)));
  }
  tensor(name: string): tf.Tensor {
    const i = this.info(name);
    return tensorFromTyped(i, typedFromBytes(i.dtype, this.bytesOf(name)), this.source, name);
  }
}

function listNames(names: string[]): string {
  if (names.length === 0) return 'no tensors';
  const shown = names.slice(0, 8).map((n) => `"${n}"`).join(', ');
  return names.length > 8 ? `${shown}, … ${names.length} in all` : shown;
}

/** Decodes and validates a whole safetensors file held in memory. */
export function decodeSafetensors(bytes: Uint8Array, source = '<bytes>'): DecodedSafetensors {
  const n = parseHeaderLength(bytes.subarray(0, 8), bytes.byteLength, source);
  const header = parseHeaderJson(bytes.subarray(8, 8 + n), n, bytes.byteLength - 8 - n, source);
  return new DecodedSafetensors(bytes, header, source);
}

// ---------------------------------------------------------------------------------------------
// reading from a file

async function readFully(fh: FileHandle, into: Uint8Array, position: number, source: string, what: string): Promise<void> {
  const got = await readAt(fh, into, position);
  if (got < into.byteLength) fail(source, `${what}: file ended after ${got} of ${into.byteLength} bytes (truncated while reading?)`);
}

/**
 * A safetensors file opened for random access. `open` reads and validates the header only;
 * each `read*` call reads one tensor's bytes with a positioned read. Call `close()` when done.
 */
export class SafetensorsFile extends SafetensorsIndex {
  private fh: FileHandle | undefined;

  private constructor(
    readonly path: string,
    fh: FileHandle,
    header: ParsedHeader,
    readonly fileSize: number,
  ) {
    super(header, path);
    this.fh = fh;
  }

  static async open(path: string): Promise<SafetensorsFile> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new FileFormatError(`safetensors ${path}: cannot open (${code ?? (e as Error).message})`, { cause: e });
    }
    try {
      const st = await fh.stat();
      // open() succeeds on a folder on Linux; reading it would fail with a bare EISDIR
      if (st.isDirectory()) throw new FileFormatError(`safetensors ${path}: is a folder, not a safetensors file`);
      const { size } = st;
      const first = new Uint8Array(8);
      if (size >= 8) await readFully(fh, first, 0, path, 'header length');
      const n = parseHeaderLength(first, size, path);
      const json = new Uint8Array(n);
      await readFully(fh, json, 8, path, 'header');
      const header = parseHeaderJson(json, n, size - 8 - n, path);
      return new SafetensorsFile(path, fh, header, size);
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
  }

  /** The tensor's raw little-endian bytes. */
  async readBytes(name: string): Promise<Uint8Array> {
    const i = this.info(name);
    const fh = this.fh;
    if (!fh) throw new FileFormatError(`safetensors ${this.path}: tensor "${name}": file is closed`);
    const out = new Uint8Array(i.byteLength);
    await readFully(fh, out, i.byteOffset, this.path, `tensor "${name}"`);
    return out;
  }
  /**
   * The raw bytes of rows [rowStart, rowEnd) along the first dimension only (one positioned
   * read), for streaming a large tensor (e.g. cached activations) in pieces.
   */
  async readRowBytes(name: string, rowStart: number, rowEnd: number): Promise<Uint8Array> {
    const i = this.info(name);
    const rows = i.shape[0];
    if (rows === undefined) throw new ShapeError(`safetensors ${this.path}: tensor "${name}" is a scalar; it has no rows`);
    if (!(Number.isInteger(rowStart) && Number.isInteger(rowEnd) && 0 <= rowStart && rowStart <= rowEnd && rowEnd <= rows)) {
      throw new ShapeError(`safetensors ${this.path}: tensor "${name}": rows [${rowStart}, ${rowEnd}) out of range [0, ${rows})`);
    }
    const rowBytes = rows === 0 ? 0 : i.byteLength / rows;
    const fh = this.fh;
    if (!fh) throw new FileFormatError(`safetensors ${this.path}: tensor "${name}": file is closed`);
    const out = new Uint8Array((rowEnd - rowStart) * rowBytes);
    await readFully(fh, out, i.byteOffset + rowStart * rowBytes, this.path, `tensor "${name}" rows [${rowStart}, ${rowEnd})`);
    return out;
  }
  /** Rows [rowStart, rowEnd) along the first dimension as float32. */
  async readFloat32Rows(name: string, rowStart: number, rowEnd: number): Promise<Float32Array> {
    const i = this.info(name);
    return float32FromTyped(i.dtype, typedFromBytes(i.dtype, await this.readRowBytes(name, rowStart, rowEnd), true));
  }
  /** Rows [rowStart, rowEnd) along the first dimension as a tfjs tensor (as `readTensor`). */
  async readTensorRows(name: string, rowStart: number, rowEnd: number): Promise<tf.Tensor> {
    const i = this.info(name);
    const bytes = await this.readRowBytes(name, rowStart, rowEnd);
    const part = { ...i, shape: [rowEnd - rowStart, ...i.shape.slice(1)] };
    return tensorFromTyped(part, typedFromBytes(i.dtype, bytes, true), this.path, name);
  }

  /** Values in the dtype's own storage; F16/BF16 (and F8) as raw Uint16Array/Uint8Array bits. */
  async readTyped(name: string): Promise<SafetensorsTypedArray> {
    const i = this.info(name);
    return typedFromBytes(i.dtype, await this.readBytes(name), true);
  }
  /** Values converted to float32, whatever the dtype. */
  async readFloat32(name: string): Promise<Float32Array> {
    const i = this.info(name);
    return float32FromTyped(i.dtype, typedFromBytes(i.dtype, await this.readBytes(name), true));
  }
  /** A tfjs tensor: float32 for float dtypes, int32 for integer and BOOL dtypes (range-checked). */
  async readTensor(name: string): Promise<tf.Tensor> {
    const i = this.info(name);
    return tensorFromTyped(i, typedFromBytes(i.dtype, await this.readBytes(name), true), this.path, name);
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}

/**
 * Reads every tensor (or those in `names`) of a file as tfjs tensors, plus its metadata.
 * The caller owns the tensors.
 */
export async function loadSafetensors(
  path: string,
  names?: string[],
): Promise<{ tensors: Record<string, tf.Tensor>; metadata: Record<string, string> }> {
  const f = await SafetensorsFile.open(path);
  const tensors: Record<string, tf.Tensor> = {};
  try {
    for (const n of names ?? f.names()) tensors[n] = await f.readTensor(n);
    return { tensors, metadata: { ...f.metadata } };
  } catch (e) {
    for (const t of Object.values(tensors)) t.dispose();
    throw e;
  } finally {
    await f.close();
  }
}

// ---------------------------------------------------------------------------------------------
// writing

const WRITABLE: ReadonlySet<SafetensorsDtype> = new Set<SafetensorsDtype>([
  'F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL',
]);

interface Prepared {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  byteLength: number;
  /** produces the little-endian bytes when it is this tensor's turn to be written */
  bytes: () => Promise<Uint8Array> | Uint8Array;
}

function isTensor(x: TensorInput): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

function storageMatches(dtype: SafetensorsDtype, data: unknown): boolean {
  switch (dtype) {
    case 'F64': return data instanceof Float64Array;
    case 'F32': return data instanceof Float32Array;
    case 'F16': case 'BF16': return data instanceof Uint16Array;
    case 'I64': return data instanceof BigInt64Array;
    case 'I32': return data instanceof Int32Array;
    case 'I16': return data instanceof Int16Array;
    case 'I8': return data instanceof Int8Array;
    case 'U8': case 'BOOL': return data instanceof Uint8Array;
    default: return false;
  }
}

function checkInt(v: number, lo: number, hi: number, name: string, dtype: string, i: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new ShapeError(`writeSafetensors: tensor "${name}": value ${v} at flat index ${i} is not a valid ${dtype}`);
  }
  return v;
}

/** Converts values to the little-endian bytes of `dtype`. */
function encodeValues(dtype: SafetensorsDtype, data: ArrayBufferView | ArrayLike<number>, count: number, name: string): Uint8Array {
  let native: ArrayBufferView;
  if (storageMatches(dtype, data)) {
    native = data as ArrayBufferView;
  } else {
    if (ArrayBuffer.isView(data) && (data instanceof BigInt64Array || data instanceof BigUint64Array || data instanceof DataView)) {
      if (dtype === 'I64' && data instanceof BigUint64Array) {
        native = new BigInt64Array(data.length);
        for (let i = 0; i < data.length; i++) {
          if (data[i]! > 9223372036854775807n) throw new ShapeError(`writeSafetensors: tensor "${name}": value ${data[i]} at flat index ${i} is not a valid I64`);
          (native as BigInt64Array)[i] = BigInt.asIntN(64, data[i]!);
        }
      } else {
        throw new ShapeError(`writeSafetensors: tensor "${name}": cannot convert ${data.constructor.name} to ${dtype}`);
      }
    } else {
      const src = data as ArrayLike<number>;
      const n = src.length;
      switch (dtype) {
        case 'F64': native = Float64Array.from(src); break;
        case 'F32': native = Float32Array.from(src); break;
        case 'F16': { const o = new Uint16Array(n); for (let i = 0; i < n; i++) o[i] = numberToF16Bits(src[i]!); native = o; break; }
        case 'BF16': { const o = new Uint16Array(n); for (let i = 0; i < n; i++) o[i] = numberToBf16Bits(src[i]!); native = o; break; }
        case 'I64': { const o = new BigInt64Array(n); for (let i = 0; i < n; i++) o[i] = BigInt(checkInt(src[i]!, -(2 ** 63), 2 ** 63 - 1, name, dtype, i)); native = o; break; }
        case 'I32': { const o = new Int32Array(n); for (let i = 0; i < n; i++) o[i] = checkInt(src[i]!, -2147483648, 2147483647, name, dtype, i); native = o; break; }
        case 'I16': { const o = new Int16Array(n); for (let i = 0; i < n; i++) o[i] = checkInt(src[i]!, -32768, 32767, name, dtype, i); native = o; break; }
        case 'I8': { const o = new Int8Array(n); for (let i = 0; i < n; i++) o[i] = checkInt(src[i]!, -128, 127, name, dtype, i); native = o; break; }
        case 'U8': { const o = new Uint8Array(n); for (let i = 0; i < n; i++) o[i] = checkInt(src[i]!, 0, 255, name, dtype, i); native = o; break; }
        case 'BOOL': { const o = new Uint8Array(n); for (let i = 0; i < n; i++) o[i] = src[i] ? 1 : 0; native = o; break; }
        default: throw new ShapeError(`writeSafetensors: tensor "${name}": writing ${dtype} is not supported`);
      }
    }
  }
  const size = ELEMENT_SIZE[dtype];
  const bytes = new Uint8Array(native.buffer, native.byteOffset, native.byteLength);
  if (bytes.byteLength !== count * size) {
    throw new ShapeError(`writeSafetensors: tensor "${name}": ${bytes.byteLength / size} values of ${dtype} do not match shape (${count} elements)`);
  }
  if (HOST_LE || size === 1) return bytes;
  const swapped = Uint8Array.from(bytes);
  for (let i = 0; i < swapped.length; i += size) swapped.subarray(i, i + size).reverse();
  return swapped;
}

function prepare(tensors: Record<string, TensorInput>, sync: boolean): Prepared[] {
  const out: Prepared[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new ShapeError('writeSafetensors: "__metadata__" is reserved and cannot name a tensor');
    if (isTensor(t)) {
      if (t.isDisposed) throw new ShapeError(`writeSafetensors: tensor "${name}" is disposed`);
      const dtype: SafetensorsDtype | undefined =
        t.dtype === 'float32' ? 'F32' : t.dtype === 'int32' ? 'I32' : t.dtype === 'bool' ? 'BOOL' : undefined;
      if (!dtype) throw new ShapeError(`writeSafetensors: tensor "${name}": tfjs dtype ${t.dtype} has no safetensors counterpart`);
      const shape = [...t.shape];
      const count = t.size;
      out.push({
        name, dtype, shape, byteLength: count * ELEMENT_SIZE[dtype],
        bytes: sync ? () => encodeValues(dtype, t.dataSync() as ArrayLike<number>, count, name)
          : async () => encodeValues(dtype, (await t.data()) as ArrayLike<number>, count, name),
      });
    } else {
      if (!isSafetensorsDtype(t.dtype) || !WRITABLE.has(t.dtype)) {
        throw new ShapeError(`writeSafetensors: tensor "${name}": cannot write dtype ${JSON.stringify(t.dtype)}`);
      }
      if (!Array.isArray(t.shape) || !t.shape.every(isNonNegInt)) {
        throw new ShapeError(`writeSafetensors: tensor "${name}": shape must be non-negative integers, got ${JSON.stringify(t.shape)}`);
      }
      const count = t.shape.reduce((a, b) => a * b, 1);
      const dtype = t.dtype;
      // validate size now so a bad input fails before anything is written
      const bytes = encodeValues(dtype, t.data, count, name);
      out.push({ name, dtype, shape: [...t.shape], byteLength: bytes.byteLength, bytes: () => bytes });
    }
  }
  // Same order as the reference writer: larger elements first (keeps every tensor aligned to
  // its element size), then by name.
  out.sort((a, b) => ELEMENT_SIZE[b.dtype] - ELEMENT_SIZE[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

function checkMetadata(metadata: Record<string, string> | undefined): void {
  if (!metadata) return;
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new ShapeError(`writeSafetensors: metadata "${k}" must be a string, got ${typeof v}`);
  }
}

/** The header bytes (length prefix + JSON padded with spaces to a multiple of 8). */
function headerBytes(items: Prepared[], metadata: Record<string, string> | undefined): Uint8Array {
  const obj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) obj.__metadata__ = metadata;
  let off = 0;
  for (const it of items) {
    obj[it.name] = { dtype: it.dtype, shape: it.shape, data_offsets: [off, off + it.byteLength] };
    off += it.byteLength;
  }
  const json = Buffer.from(JSON.stringify(obj), 'utf8');
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength);
  return out;
}

/** Encodes tensors (tfjs tensors are read with dataSync) into safetensors bytes. */
export function encodeSafetensors(tensors: Record<string, TensorInput>, metadata?: Record<string, string>): Uint8Array {
  checkMetadata(metadata);
  const items = prepare(tensors, true);
  const head = headerBytes(items, metadata);
  const total = head.byteLength + items.reduce((a, it) => a + it.byteLength, 0);
  const out = new Uint8Array(total);
  out.set(head, 0);
  let pos = head.byteLength;
  for (const it of items) {
    out.set(it.bytes() as Uint8Array, pos);
    pos += it.byteLength;
  }
  return out;
}

/**
 * Writes a safetensors file atomically: into a temporary file beside `path`, fsynced, then
 * renamed. Tensors are downloaded and written one at a time, so the file is never held in
 * memory whole. tfjs float32 → F32, int32 → I32, bool → BOOL; use a RawTensor for other dtypes
 * (e.g. `{ dtype: 'F16', shape, data: float32Values }`).
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
