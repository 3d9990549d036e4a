import * as tf from '@tensorflow/tfjs-core';
import { type SafetensorsTypedArray, float32FromTyped, tensorFromTyped, typedFromBytes } from './dtypes.js';
import { type ParsedHeader, SafetensorsIndex, parseHeaderJson, parseHeaderLength } from './header.js';

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

/** Decodes and validates a whole safetensors file held in memory. */
export function decodeSafetensors(bytes: Uint8Array, source = '<bytes>'): DecodedSafetensors {
  const n = parseHeaderLength(bytes.subarray(0, 8), bytes.byteLength, source);
  const header = parseHeaderJson(bytes.subarray(8, 8 + n), n, bytes.byteLength - 8 - n, source);
  return new DecodedSafetensors(bytes, header, source);
}
