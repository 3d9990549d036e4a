/** The header: its length prefix, its JSON (validated against the data section), and the index of tensors it gives. */
import { FileFormatError } from '../../errors.js';
import { ELEMENT_SIZE, type SafetensorsInfo, isSafetensorsDtype } from './dtypes.js';
import { fail } from './fail.js';

export const MAX_HEADER_BYTES = 100_000_000;

export interface ParsedHeader {
  headerLength: number; // N (without the 8 length bytes)
  metadata: Record<string, string>;
  entries: Map<string, SafetensorsInfo>;
}

/** Reads N from the first 8 bytes and checks it against the total size. */
export function parseHeaderLength(first8: Uint8Array, totalSize: number, source: string): number {
  if (totalSize < 8) fail(source, `truncated file: ${totalSize} bytes, need at least 8 for the header length`);
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(source, `header length ${n} is absurd (limit ${MAX_HEADER_BYTES} bytes); not a safetensors file?`);
  const len = Number(n);
  if (len < 2) fail(source, `header length ${len} is too small for a JSON object`);
  if (8 + len > totalSize) fail(source, `header length ${len} runs past the end of the file (${totalSize} bytes): truncated file?`);
  return len;
}

export function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Parses and validates the JSON header against a data section of `dataLength` bytes. */
export function parseHeaderJson(json: Uint8Array, headerLength: number, dataLength: number, source: string): ParsedHeader {
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


/** The header side shared by the file reader and the in-memory decoder. */
export abstract class SafetensorsIndex {
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

export function listNames(names: string[]): string {
  if (names.length === 0) return 'no tensors';
  const shown = names.slice(0, 8).map((n) => `"${n}"`).join(', ');
  return names.length > 8 ? `${shown}, … ${names.length} in all` : shown;
}
