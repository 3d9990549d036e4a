import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../../errors.js';
import { ELEMENT_SIZE, HOST_LE, type SafetensorsDtype, type TensorInput, numberToBf16Bits, numberToF16Bits, isSafetensorsDtype } from './dtypes.js';
import { isNonNegInt } from './header.js';

const WRITABLE: ReadonlySet<SafetensorsDtype> = new Set<SafetensorsDtype>([
  'F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL',
]);

export interface Prepared {
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

export function prepare(tensors: Record<string, TensorInput>, sync: boolean): Prepared[] {
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

export function checkMetadata(metadata: Record<string, string> | undefined): void {
  if (!metadata) return;
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new ShapeError(`writeSafetensors: metadata "${k}" must be a string, got ${typeof v}`);
  }
}

/** The header bytes (length prefix + JSON padded with spaces to a multiple of 8). */
export function headerBytes(items: Prepared[], metadata: Record<string, string> | undefined): Uint8Array {
  const obj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) obj.__metadata__ = metadata;
  let off = 0;
  for (const it of items) {
    obj[it.name] = { dtype: it.dtype, shape: it.shape, data_offsets: [off, off + it.byteLength] };
    off += it.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(obj));
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
