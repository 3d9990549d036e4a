import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError, ShapeError } from '../../errors.js';
import { platform, type RandomAccessFile } from '../../platform/index.js';
import { type SafetensorsTypedArray, float32FromTyped, tensorFromTyped, typedFromBytes } from './dtypes.js';
import { fail } from './fail.js';
import { type ParsedHeader, SafetensorsIndex, parseHeaderJson, parseHeaderLength } from './header.js';

async function readFully(fh: RandomAccessFile, into: Uint8Array, position: number, source: string, what: string): Promise<void> {
  const got = await fh.readAt(into, position);
  if (got < into.byteLength) fail(source, `${what}: file ended after ${got} of ${into.byteLength} bytes (truncated while reading?)`);
}

/**
 * A safetensors file opened for random access. `open` reads and validates the header only;
 * each `read*` call reads one tensor's bytes with a positioned read. Call `close()` when done.
 */
export class SafetensorsFile extends SafetensorsIndex {
  private fh: RandomAccessFile | undefined;

  private constructor(
    readonly path: string,
    fh: RandomAccessFile,
    header: ParsedHeader,
    readonly fileSize: number,
  ) {
    super(header, path);
    this.fh = fh;
  }

  /**
   * Opens a file by path (through the platform: the disk on Node), or reads an already opened
   * RandomAccessFile or the one a thunk opens (a folder's file, a page's Blob or fetched bytes;
   * `path` then only names it in errors).
   */
  static async open(path: string, opened?: RandomAccessFile | (() => Promise<RandomAccessFile>)): Promise<SafetensorsFile> {
    let fh: RandomAccessFile;
    try {
      // a thunk opens inside this try, so that a folder or a missing file gets the errors below
      fh = opened === undefined ? await platform.files.open(path) : typeof opened === 'function' ? await opened() : opened;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EISDIR') throw new FileFormatError(`safetensors ${path}: is a folder, not a safetensors file`, { cause: e });
      throw new FileFormatError(`safetensors ${path}: cannot open (${code ?? (e as Error).message})`, { cause: e });
    }
    try {
      const { size } = fh;
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
