/**
 * NumPy `.npz` archives (numpy.savez / savez_compressed): a zip of `.npy` files, read into
 * float32 arrays. What Gemma Scope's `params.npz` needs and no more:
 *
 * - zip: the central directory (zip64 sizes and offsets when the 32-bit fields say 0xFFFFFFFF,
 *   as numpy writes with force_zip64), entries stored (0) or deflated (8);
 * - npy: format 1.0–3.0 headers, little-endian float32/float64/float16 (`<f4`, `<f8`, `<f2`),
 *   C order; anything else is a FileFormatError naming the file and the array.
 */
import { inflateRawSync } from 'node:zlib';
import { FileFormatError } from '../errors.js';
import { f16BitsToNumber } from './safetensors/dtypes.js';

export interface NpyArray {
  readonly shape: number[];
  readonly data: Float32Array;
}

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
const u64 = (b: Uint8Array, o: number) => u32(b, o) + u32(b, o + 4) * 0x100000000;

interface Entry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

function entries(buf: Uint8Array, file: string): Entry[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (u32(buf, i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new FileFormatError(`${file}: not a zip archive (no end-of-central-directory record); an .npz file is a zip of .npy files`);
  let count = u16(buf, eocd + 10);
  let offset = u32(buf, eocd + 16);
  // zip64: the locator sits just before the end record
  if ((count === 0xffff || offset === 0xffffffff) && eocd >= 20 && u32(buf, eocd - 20) === 0x07064b50) {
    const rec = u64(buf, eocd - 12);
    count = u64(buf, rec + 32);
    offset = u64(buf, rec + 48);
  }
  const out: Entry[] = [];
  let p = offset;
  for (let n = 0; n < count; n++) {
    if (u32(buf, p) !== 0x02014b50) throw new FileFormatError(`${file}: broken zip central directory at byte ${p}`);
    const nameLen = u16(buf, p + 28);
    const extraLen = u16(buf, p + 30);
    const commentLen = u16(buf, p + 32);
    const e: Entry = {
      name: new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nameLen)),
      method: u16(buf, p + 10),
      compressedSize: u32(buf, p + 20),
      size: u32(buf, p + 24),
      localOffset: u32(buf, p + 42),
    };
    // zip64 extended information: the 64-bit values of the fields that hold 0xFFFFFFFF, in order
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = u16(buf, x);
      const len = u16(buf, x + 2);
      if (id === 0x0001) {
        let q = x + 4;
        if (e.size === 0xffffffff) (e.size = u64(buf, q)), (q += 8);
        if (e.compressedSize === 0xffffffff) (e.compressedSize = u64(buf, q)), (q += 8);
        if (e.localOffset === 0xffffffff) e.localOffset = u64(buf, q);
      }
      x += 4 + len;
    }
    out.push(e);
    p = xEnd + commentLen;
  }
  return out;
}

function entryBytes(buf: Uint8Array, e: Entry, file: string): Uint8Array {
  const p = e.localOffset;
  if (u32(buf, p) !== 0x04034b50) throw new FileFormatError(`${file}: broken zip local header of ${e.name}`);
  const start = p + 30 + u16(buf, p + 26) + u16(buf, p + 28);
  const raw = buf.subarray(start, start + e.compressedSize);
  if (e.method === 0) return raw;
  if (e.method === 8) return new Uint8Array(inflateRawSync(raw));
  throw new FileFormatError(`${file}: ${e.name} uses zip compression method ${e.method}; expected stored (0) or deflate (8)`);
}

/** One `.npy` file's array as float32 (`what` names it in errors). */
export function parseNpy(b: Uint8Array, what: string): NpyArray {
  if (!(b[0] === 0x93 && new TextDecoder().decode(b.subarray(1, 6)) === 'NUMPY')) throw new FileFormatError(`${what}: not an .npy array (bad magic)`);
  const major = b[6]!;
  const headerLen = major === 1 ? u16(b, 8) : u32(b, 8);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(b.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new FileFormatError(`${what}: unreadable .npy header ${JSON.stringify(header)}`);
  if (fortran === 'True') throw new FileFormatError(`${what}: Fortran-order arrays are not supported (save it in C order)`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const n = shape.reduce((a, d) => a * d, 1);
  const body = b.subarray(start + headerLen);
  const width = { '<f4': 4, '<f8': 8, '<f2': 2 }[descr];
  if (width === undefined) throw new FileFormatError(`${what}: dtype ${descr} is not supported; expected little-endian float32, float64 or float16 (<f4, <f8, <f2)`);
  if (body.length < n * width) throw new FileFormatError(`${what}: ${body.length} data bytes for shape (${shape.join(', ')}) of ${descr}, expected ${n * width}`);
  const view = new DataView(body.buffer, body.byteOffset, n * width);
  const data = new Float32Array(n);
  if (width === 4) for (let i = 0; i < n; i++) data[i] = view.getFloat32(i * 4, true);
  else if (width === 8) for (let i = 0; i < n; i++) data[i] = view.getFloat64(i * 8, true);
  else for (let i = 0; i < n; i++) data[i] = f16BitsToNumber(view.getUint16(i * 2, true));
  return { shape, data };
}

/** Every array of an `.npz` archive by name (without `.npy`), as float32. */
export function readNpz(buf: Uint8Array, file: string): Record<string, NpyArray> {
  const out: Record<string, NpyArray> = {};
  for (const e of entries(buf, file)) {
    const name = e.name.endsWith('.npy') ? e.name.slice(0, -4) : e.name;
    out[name] = parseNpy(entryBytes(buf, e, file), `${file}: ${name}`);
  }
  return out;
}
