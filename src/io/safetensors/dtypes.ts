/** The format's element types, their byte sizes and byte order, and conversion of stored values to tfjs dtypes. */
import * as tf from '@tensorflow/tfjs-core';
import { fail } from './fail.js';

/** Element types of the format. F8 types are read (converted to float32) but not written. */
export type SafetensorsDtype =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8'
  | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

export const ELEMENT_SIZE: Record<SafetensorsDtype, number> = {
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

export const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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

export function f8e4m3ToNumber(v: number): number {
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
export function typedFromBytes(dtype: SafetensorsDtype, bytes: Uint8Array, owned = false): SafetensorsTypedArray {
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
export function float32FromTyped(dtype: SafetensorsDtype, a: SafetensorsTypedArray): Float32Array {
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
export function int32FromTyped(dtype: SafetensorsDtype, a: SafetensorsTypedArray, source: string, name: string): Int32Array {
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

export function isFloatDtype(d: SafetensorsDtype): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16' || d === 'F8_E4M3' || d === 'F8_E5M2';
}

export function tensorFromTyped(info: SafetensorsInfo, a: SafetensorsTypedArray, source: string, name: string): tf.Tensor {
  if (isFloatDtype(info.dtype)) return tf.tensor(float32FromTyped(info.dtype, a), info.shape, 'float32');
  return tf.tensor(int32FromTyped(info.dtype, a, source, name), info.shape, 'int32');
}

