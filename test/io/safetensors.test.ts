import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileFormatError, ShapeError } from '../../src/errors.js';
import {
  SafetensorsFile,
  decodeSafetensors,
  encodeSafetensors,
  f16BitsToNumber,
  loadSafetensors,
  numberToBf16Bits,
  numberToF16Bits,
  writeSafetensors,
  type RawTensor,
  type SafetensorsDtype,
} from '../../src/io/safetensors.js';
import { titled } from '../helpers/skip.js';
import { leakedTensors, setupTf } from '../helpers/tf.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, '..', 'fixtures', 'io');
const shared = path.resolve(here, '..', '..', '..', 'shared');

let tmp: string;
test.before(async () => {
  await setupTf();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sae-rx-st-'));
});
test.after.always(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** Builds a safetensors file by hand (header object as given, no validation). */
function handMade(header: unknown, data: Uint8Array, opts: { rawHeader?: string; lengthOverride?: bigint } = {}): Uint8Array {
  const json = Buffer.from(opts.rawHeader ?? JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// round trips

const roundTripCases: Array<[SafetensorsDtype, RawTensor['data'], number[]]> = [
  ['F64', new Float64Array([1.5, -2.25, 1e300, 0]), [2, 2]],
  ['F32', new Float32Array([0.1, -3, 7.5, 1e-30, 1e30, -0]), [3, 2]],
  ['F16', new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001, 0x7bff, 0x8000]), [6]],
  ['BF16', new Uint16Array([0x3f80, 0xc040, 0x7f80, 0x0001]), [2, 2]],
  ['I64', new BigInt64Array([-(2n ** 62n), -1n, 0n, 2n ** 62n]), [4]],
  ['I32', new Int32Array([-(2 ** 31), -1, 0, 2 ** 31 - 1]), [1, 4]],
  ['I16', new Int16Array([-32768, 0, 32767]), [3]],
  ['I8', new Int8Array([-128, 5, 127]), [3]],
  ['U8', new Uint8Array([0, 128, 255]), [3, 1]],
  ['BOOL', new Uint8Array([1, 0, 1, 1]), [2, 2]],
];

for (const [dtype, data, shape] of roundTripCases) {
  test(`round trip ${dtype} through a file and through memory`, async (t) => {
    const p = path.join(tmp, `rt-${dtype}.safetensors`);
    await writeSafetensors(p, { x: { dtype, shape, data }, y: { dtype: 'F32', shape: [], data: [4] } }, { k: 'v' });
    const f = await SafetensorsFile.open(p);
    try {
      t.deepEqual(f.metadata, { k: 'v' });
      t.deepEqual(f.info('x').shape, shape);
      t.is(f.info('x').dtype, dtype);
      const typed = await f.readTyped('x');
      t.is(typed.constructor, (data as ArrayBufferView).constructor);
      t.deepEqual(Array.from(typed as ArrayLike<number | bigint>), Array.from(data as ArrayLike<number | bigint>));
      // memory decode sees the same bytes
      const mem = decodeSafetensors(await fsp.readFile(p));
      t.deepEqual(Array.from(mem.typed('x') as ArrayLike<number | bigint>), Array.from(typed as ArrayLike<number | bigint>));
      t.deepEqual(new Uint8Array(mem.bytesOf('x')), await f.readBytes('x'));
    } finally {
      await f.close();
    }
  });
}

test('F16/BF16 read as float32 and round float32 to nearest even', (t) => {
  t.is(f16BitsToNumber(0x3c00), 1);
  t.is(f16BitsToNumber(0x0001), 2 ** -24);
  t.is(f16BitsToNumber(0x7bff), 65504);
  t.is(numberToF16Bits(1 + 2 ** -11), 0x3c00); // tie → even (down)
  t.is(numberToF16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  t.is(numberToF16Bits(65520), 0x7c00); // rounds up to Inf
  t.is(numberToF16Bits(65519), 0x7bff);
  t.is(numberToF16Bits(2 ** -25), 0); // tie between 0 and the smallest subnormal → 0
  t.is(numberToF16Bits(3 * 2 ** -26), 1);
  t.true(Number.isNaN(f16BitsToNumber(numberToF16Bits(NaN))));
  t.is(numberToBf16Bits(1 + 2 ** -8), 0x3f80);
  t.is(numberToBf16Bits(1 + 3 * 2 ** -8), 0x3f82);
  t.is(numberToBf16Bits(-2), 0xc000);
  const bytes = encodeSafetensors({ h: { dtype: 'F16', shape: [3], data: [1, -2.5, 0.1] }, b: { dtype: 'BF16', shape: [2], data: new Float32Array([1, -0.5]) } });
  const d = decodeSafetensors(bytes);
  t.deepEqual(Array.from(d.float32('h')), [1, -2.5, f16BitsToNumber(numberToF16Bits(0.1))]);
  t.deepEqual(Array.from(d.float32('b')), [1, -0.5]);
});

test('tfjs tensors round trip; readTensor gives float32 for floats and int32 for ints (leak-free)', async (t) => {
  const p = path.join(tmp, 'tf.safetensors');
  const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
  const b = tf.tensor1d([7, -8], 'int32');
  const c = tf.tensor1d([true, false], 'bool');
  await writeSafetensors(p, { a, b, c });
  a.dispose(); b.dispose(); c.dispose();
  const leaked = await leakedTensors(async () => {
    const { tensors, metadata } = await loadSafetensors(p);
    t.deepEqual(metadata, {});
    t.is(tensors.a!.dtype, 'float32');
    t.deepEqual(tensors.a!.shape, [2, 3]);
    t.deepEqual(await tensors.a!.array(), [[1, 2, 3], [4, 5, 6]]);
    t.is(tensors.b!.dtype, 'int32');
    t.deepEqual(await tensors.b!.array(), [7, -8]);
    t.is(tensors.c!.dtype, 'int32');
    t.deepEqual(await tensors.c!.array(), [1, 0]);
    for (const x of Object.values(tensors)) x.dispose();
  });
  t.is(leaked, 0);
});

test('writer: header padded with spaces to 8 bytes, sorted by element size then name, data aligned', (t) => {
  const bytes = encodeSafetensors({
    z: { dtype: 'U8', shape: [3], data: [1, 2, 3] },
    b: { dtype: 'F32', shape: [1], data: [1] },
    a: { dtype: 'F32', shape: [1], data: [2] },
    l: { dtype: 'I64', shape: [1], data: [5] },
  }, { m: 'x' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  t.is(n % 8, 0);
  const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
  t.regex(text, /^\{.*\} *$/);
  const h = JSON.parse(text);
  t.deepEqual(h.__metadata__, { m: 'x' });
  t.deepEqual(h.l.data_offsets, [0, 8]);
  t.deepEqual(h.a.data_offsets, [8, 12]);
  t.deepEqual(h.b.data_offsets, [12, 16]);
  t.deepEqual(h.z.data_offsets, [16, 19]);
  t.is(bytes.length, 8 + n + 19);
});

test('writer rejects bad inputs before writing anything', async (t) => {
  const p = path.join(tmp, 'bad-input.safetensors');
  await t.throwsAsync(writeSafetensors(p, { x: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3] } }), { instanceOf: ShapeError, message: /"x".*shape/ });
  await t.throwsAsync(writeSafetensors(p, { x: { dtype: 'I32', shape: [1], data: [1.5] } }), { instanceOf: ShapeError, message: /"x".*1\.5/ });
  await t.throwsAsync(writeSafetensors(p, { x: { dtype: 'U8', shape: [1], data: [300] } }), { instanceOf: ShapeError });
  await t.throwsAsync(writeSafetensors(p, { x: { dtype: 'NOPE' as SafetensorsDtype, shape: [1], data: [1] } }), { instanceOf: ShapeError, message: /"x"/ });
  await t.throwsAsync(writeSafetensors(p, { __metadata__: { dtype: 'F32', shape: [1], data: [1] } }), { instanceOf: ShapeError });
  t.false(existsSync(p));
  t.deepEqual((await fsp.readdir(tmp)).filter((f) => f.includes('bad-input')), []);
});

test('writer is atomic: an existing file stays intact when a write fails midway', async (t) => {
  const p = path.join(tmp, 'atomic.safetensors');
  await writeSafetensors(p, { x: { dtype: 'F32', shape: [1], data: [1] } });
  const before = await fsp.readFile(p);
  const disposed = tf.tensor1d([1, 2]);
  disposed.dispose();
  await t.throwsAsync(writeSafetensors(p, { a: { dtype: 'F32', shape: [1], data: [9] }, b: disposed }));
  t.deepEqual(await fsp.readFile(p), before);
  t.deepEqual((await fsp.readdir(tmp)).filter((f) => f.startsWith('.atomic')), []);
});

// ---------------------------------------------------------------------------------------------
// malformed files

const f32x2 = new Uint8Array(new Float32Array([1, 2]).buffer);
const malformed: Array<[string, Uint8Array, RegExp]> = [
  ['truncated before the header length', new Uint8Array([1, 2, 3]), /truncated file: 3 bytes/],
  ['absurd header length', handMade({}, new Uint8Array(0), { lengthOverride: 1n << 60n }), /header length \d+ is absurd/],
  ['header length past the end', handMade({}, new Uint8Array(0), { lengthOverride: 500n }), /header length 500 runs past the end/],
  ['bad JSON', handMade(null, new Uint8Array(0), { rawHeader: '{"x": {' }), /header is not valid JSON/],
  ['header not an object', handMade(null, new Uint8Array(0), { rawHeader: '[1,2]   ' }), /does not start with '\{'/],
  ['unknown dtype', handMade({ x: { dtype: 'F12', shape: [2], data_offsets: [0, 8] } }, f32x2), /tensor "x": unknown dtype "F12"/],
  ['shape/size mismatch', handMade({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32x2), /tensor "x": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/],
  ['bad shape', handMade({ x: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, f32x2), /tensor "x": shape must be/],
  ['offsets overlap', handMade({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32x2), /tensor "y".*overlap tensor "x"/],
  ['gap between tensors', handMade({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, y: { dtype: 'U8', shape: [2], data_offsets: [6, 8] } }, f32x2), /tensor "y": gap of 2 bytes/],
  ['gap at the start', handMade({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32x2), /tensor "x": gap of 4 bytes/],
  ['running past the file', handMade({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32x2), /tensor "x": data_offsets \[0, 16\] run past the end/],
  ['trailing bytes', handMade({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32x2), /4 bytes after the last tensor \("x"\)/],
  ['end before begin', handMade({ x: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, f32x2), /tensor "x": data_offsets \[8, 0\] end before begin/],
  ['metadata not strings', handMade({ __metadata__: { a: 1 } }, new Uint8Array(0)), /"__metadata__"\."a" must be a string/],
];

for (const [what, bytes, re] of malformed) {
  test(`malformed: ${what}`, async (t) => {
    const p = path.join(tmp, `bad-${what.replace(/\W+/g, '-')}.safetensors`);
    await fsp.writeFile(p, bytes);
    const e = await t.throwsAsync(SafetensorsFile.open(p), { instanceOf: FileFormatError, message: re });
    t.true(e!.message.includes(p), `message names the file: ${e!.message}`);
    t.throws(() => decodeSafetensors(bytes), { instanceOf: FileFormatError, message: re });
  });
}

test('a file truncated after it was opened: the read names the tensor', async (t) => {
  const p = path.join(tmp, 'shrinks.safetensors');
  await writeSafetensors(p, { w: { dtype: 'F32', shape: [1000], data: new Float32Array(1000) } });
  const f = await SafetensorsFile.open(p);
  try {
    await fsp.truncate(p, 100);
    await t.throwsAsync(f.readFloat32('w'), { instanceOf: FileFormatError, message: /tensor "w".*truncated/ });
  } finally {
    await f.close();
  }
});

test('missing tensor, missing file and I64 out of int32 range are clear errors', async (t) => {
  const p = path.join(tmp, 'big-int.safetensors');
  await writeSafetensors(p, { ids: { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, 1n << 40n]) } });
  const f = await SafetensorsFile.open(p);
  try {
    t.throws(() => f.info('nope'), { instanceOf: FileFormatError, message: /no tensor "nope" \(has "ids"\)/ });
    await t.throwsAsync(f.readTensor('ids'), { instanceOf: FileFormatError, message: /tensor "ids": I64 value 1099511627776 at flat index 1 does not fit in int32/ });
    t.deepEqual(Array.from(await f.readFloat32('ids')), [1, 2 ** 40]);
  } finally {
    await f.close();
  }
  await t.throwsAsync(SafetensorsFile.open(path.join(tmp, 'absent.safetensors')), { instanceOf: FileFormatError, message: /absent\.safetensors: cannot open \(ENOENT\)/ });
});

// ---------------------------------------------------------------------------------------------
// interop with PyTorch (fixtures from scripts/reference/safetensors_interop.py)

interface Expected {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: SafetensorsDtype; shape: number[]; values: Array<number | string>; bits?: number[] }>;
}
const num = (v: number | string) => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : (v as number));

test('reads the file PyTorch wrote (every dtype, metadata, empty and scalar tensors)', async (t) => {
  const exp: Expected = JSON.parse(await fsp.readFile(path.join(fixtures, 'python_written.json'), 'utf8'));
  const f = await SafetensorsFile.open(path.join(fixtures, 'python_written.safetensors'));
  try {
    t.deepEqual(f.metadata, exp.metadata);
    t.deepEqual(f.names().sort(), Object.keys(exp.tensors).sort());
    for (const [name, e] of Object.entries(exp.tensors)) {
      const info = f.info(name);
      t.is(info.dtype, e.dtype, name);
      t.deepEqual(info.shape, e.shape, name);
      const f32 = Array.from(await f.readFloat32(name));
      t.deepEqual(f32, e.values.map((v) => Math.fround(num(v))), name);
      if (e.bits) t.deepEqual(Array.from((await f.readTyped(name)) as Uint16Array), e.bits, name);
    }
    // our f16/bf16 encoders agree bit for bit with torch's conversions
    const src = await f.readFloat32('f16_src');
    t.deepEqual(Array.from(src, numberToF16Bits), exp.tensors.f16!.bits);
    t.deepEqual(Array.from(src, numberToBf16Bits), exp.tensors.bf16!.bits);
    const ids = await f.readTensor('i64_small');
    t.is(ids.dtype, 'int32');
    t.deepEqual(await ids.array(), [[3, -7], [50256, 0]]);
    ids.dispose();
    await t.throwsAsync(f.readTensor('i64'), { message: /"i64".*does not fit in int32/ });
  } finally {
    await f.close();
  }
});

/** The inputs of ts_written.safetensors; `safetensors_interop.py check` recomputes them with torch. */
async function tsWrittenInputs(): Promise<Record<string, RawTensor>> {
  const exp: Expected = JSON.parse(await fsp.readFile(path.join(fixtures, 'python_written.json'), 'utf8'));
  const src = exp.tensors.f16_src!.values.map(num);
  return {
    a_f32: { dtype: 'F32', shape: [3, 4], data: Array.from({ length: 12 }, (_, i) => i / 8 - 0.5) },
    b_i32: { dtype: 'I32', shape: [2, 2], data: [-(2 ** 31), 7, 0, 2 ** 31 - 1] },
    c_f16: { dtype: 'F16', shape: [src.length], data: new Float32Array(src) },
    d_bf16: { dtype: 'BF16', shape: [src.length], data: new Float32Array(src) },
    e_i64: { dtype: 'I64', shape: [4], data: [-(2 ** 40), -1, 0, 2 ** 53] },
    f_u8: { dtype: 'U8', shape: [3], data: [0, 17, 255] },
    g_bool: { dtype: 'BOOL', shape: [4], data: [1, 0, 0, 1] },
    h_empty: { dtype: 'F32', shape: [0, 2], data: [] },
  };
}

test('the writer reproduces the committed ts_written.safetensors byte for byte (checked by torch)', async (t) => {
  const fixture = path.join(fixtures, 'ts_written.safetensors');
  const p = path.join(tmp, 'ts_written.safetensors');
  await writeSafetensors(p, await tsWrittenInputs(), { writer: 'sae-rx', purpose: 'interop' });
  if (process.env.UPDATE_FIXTURES) await fsp.copyFile(p, fixture);
  t.deepEqual(await fsp.readFile(p), await fsp.readFile(fixture));
});

// ---------------------------------------------------------------------------------------------
// real model files

const sharedFiles = [
  'models/tiny-gpt2-sotu/model.safetensors',
  'models/tiny-gpt2-sotu/reference.safetensors',
  'models/stories260k/model.safetensors',
  'models/stories260k/reference.safetensors',
];
for (const rel of sharedFiles) {
  const p = path.join(shared, rel);
  if (!existsSync(p)) {
    test.skip(titled(`reads shared ${rel} lazily and every tensor decodes`, `${p} absent (needs ../shared)`), () => {});
    continue;
  }
  test(`reads shared ${rel} lazily and every tensor decodes`, async (t) => {
    const f = await SafetensorsFile.open(p);
    try {
      t.is(f.metadata.format, 'pt');
      const names = f.names();
      t.true(names.length > 40);
      let elems = 0;
      for (const n of names) {
        const info = f.info(n);
        const v = await f.readFloat32(n);
        t.is(v.length, info.shape.reduce((a, b) => a * b, 1));
        elems += v.length;
      }
      t.true(elems > 0);
      // the in-memory decoder agrees with the file reader
      const mem = decodeSafetensors(await fsp.readFile(p));
      t.deepEqual(mem.float32(names[0]!), await f.readFloat32(names[0]!));
    } finally {
      await f.close();
    }
  });
}

const gpt2Weights = path.join(shared, 'models/tiny-gpt2-sotu/model.safetensors');
const haveGpt2Weights = existsSync(gpt2Weights);
(haveGpt2Weights ? test : test.skip)(titled('tiny-gpt2 weights have the expected GPT-2 shapes', haveGpt2Weights ? undefined : `${gpt2Weights} absent (needs ../shared)`), async (t) => {
  const p = gpt2Weights;
  const f = await SafetensorsFile.open(p);
  try {
    const info = f.info('transformer.h.0.attn.c_attn.weight');
    t.deepEqual(info.shape, [128, 384]);
    const w = await f.readTensor('transformer.h.0.attn.c_attn.weight');
    t.deepEqual(w.shape, [128, 384]);
    const s = tf.sum(w);
    t.true(Number.isFinite((await s.data())[0]!));
    tf.dispose([w, s]);
  } finally {
    await f.close();
  }
});

test('a huge (sparse) file opens instantly and only the asked bytes are read', async (t) => {
  // 5 GB of zeros that take no disk space: the header says a U8 tensor fills it, and a small
  // F32 tensor sits after it. Opening and reading the small one must not touch the rest.
  const p = path.join(tmp, 'huge.safetensors');
  const big = 5 * 2 ** 30;
  const header = Buffer.from(JSON.stringify({
    big: { dtype: 'U8', shape: [big / 1024, 1024], data_offsets: [0, big] },
    small: { dtype: 'F32', shape: [2], data_offsets: [big, big + 8] },
  }));
  const head = Buffer.alloc(8 + header.length);
  head.writeBigUInt64LE(BigInt(header.length), 0);
  header.copy(head, 8);
  const fh = await fsp.open(p, 'w');
  try {
    await fh.write(head, 0, head.length, 0);
    await fh.write(Buffer.from(new Float32Array([1.5, -2]).buffer), 0, 8, head.length + big);
  } finally {
    await fh.close();
  }
  const started = Date.now();
  const f = await SafetensorsFile.open(p);
  try {
    t.deepEqual(f.info('big').shape, [big / 1024, 1024]);
    t.deepEqual(Array.from(await f.readFloat32('small')), [1.5, -2]);
    const rows = await f.readTensorRows('big', 1000, 1002);
    t.deepEqual(rows.shape, [2, 1024]);
    t.is(rows.dtype, 'int32');
    rows.dispose();
    t.true(Date.now() - started < 5000);
    await t.throwsAsync(f.readRowBytes('big', 5, 4), { instanceOf: ShapeError, message: /"big": rows \[5, 4\) out of range/ });
  } finally {
    await f.close();
    await fsp.rm(p);
  }
});

test('readFloat32Rows reads a row range of a 2-D tensor', async (t) => {
  const p = path.join(tmp, 'rows.safetensors');
  await writeSafetensors(p, { a: { dtype: 'F16', shape: [4, 3], data: Array.from({ length: 12 }, (_, i) => i) } });
  const f = await SafetensorsFile.open(p);
  try {
    t.deepEqual(Array.from(await f.readFloat32Rows('a', 1, 3)), [3, 4, 5, 6, 7, 8]);
    t.deepEqual(Array.from(await f.readFloat32Rows('a', 4, 4)), []);
  } finally {
    await f.close();
  }
});
