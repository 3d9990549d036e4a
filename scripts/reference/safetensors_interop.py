#!/usr/bin/python3
"""safetensors interop between PyTorch and sae-rx's TypeScript codec (src/io/safetensors.ts).

Run by hand with Debian's python3-torch (tests never run Python):

  /usr/bin/python3 scripts/reference/safetensors_interop.py write test/fixtures/io
      writes python_written.safetensors (+ python_written.json with the expected values),
      encoded here with struct/json only (the safetensors package is not installed), the
      float16/bfloat16 bits produced by torch's own conversions.

  /usr/bin/python3 scripts/reference/safetensors_interop.py check test/fixtures/io/ts_written.safetensors
      parses a file written by the TypeScript writer (test/io/safetensors.test.ts keeps the
      committed copy byte-identical to what writeSafetensors produces) and checks every tensor
      against the values the test wrote, recomputed here with torch.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch

# dtype name -> (torch dtype, element size); order of the reference writer: big elements first
DTYPES = {
    "F64": (torch.float64, 8), "I64": (torch.int64, 8),
    "F32": (torch.float32, 4), "I32": (torch.int32, 4),
    "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2), "I16": (torch.int16, 2),
    "I8": (torch.int8, 1), "U8": (torch.uint8, 1), "BOOL": (torch.bool, 1),
}
TORCH_TO_NAME = {v[0]: k for k, v in DTYPES.items()}

# float32 values that exercise f16/bf16 rounding: ties to even, overflow, subnormals, signs
ROUNDING_SOURCES = [
    0.0, -0.0, 1.0, -2.5, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8,
    65504.0, 65519.0, 65520.0, 1e6, -1e6, 2.0**-14, 2.0**-24, 2.0**-25, 3 * 2.0**-26, 1e-8,
    6.0e-8, -3.0e-5, 0.1, 3.14159265, float("inf"), float("-inf"), 3.0e38, 1.0e-40,
]


def raw_bytes(t: torch.Tensor) -> bytes:
    t = t.contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    if t.dtype == torch.bool:
        return t.to(torch.uint8).numpy().tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def encode(tensors: dict, metadata: dict) -> bytes:
    size = {k: DTYPES[TORCH_TO_NAME[v.dtype]][1] for k, v in tensors.items()}
    order = sorted(tensors, key=lambda k: (-size[k], k))
    header = {"__metadata__": metadata}
    blobs = []
    off = 0
    for k in order:
        b = raw_bytes(tensors[k])
        header[k] = {"dtype": TORCH_TO_NAME[tensors[k].dtype], "shape": list(tensors[k].shape),
                     "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def decode(data: bytes) -> tuple:
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    pos = 0
    for b, e, k in spans:
        assert b == pos, f"tensor {k}: gap/overlap at {b}, expected {pos}"
        pos = e
    assert base + pos == len(data), "trailing bytes / truncated"
    out = {}
    for k, v in header.items():
        tdt, sz = DTYPES[v["dtype"]]
        b, e = v["data_offsets"]
        buf = bytearray(data[base + b:base + e])
        assert len(buf) == int(np.prod(v["shape"], dtype=np.int64)) * sz, k
        if tdt == torch.bool:
            t = torch.frombuffer(buf, dtype=torch.uint8).to(torch.bool) if buf else torch.zeros(0, dtype=torch.bool)
        else:
            t = torch.frombuffer(buf, dtype=tdt) if buf else torch.zeros(0, dtype=tdt)
        out[k] = t.reshape(v["shape"])
    assert n % 8 == 0, "header not padded to 8 bytes"
    return out, meta


def write(outdir: Path) -> None:
    g = torch.Generator().manual_seed(1234)
    src = torch.tensor(ROUNDING_SOURCES, dtype=torch.float32)
    tensors = {
        "f32": torch.randn(3, 4, generator=g),
        "f64": torch.randn(2, 3, generator=g, dtype=torch.float64),
        "f16_src": src,
        "f16": src.to(torch.float16),
        "bf16": src.to(torch.bfloat16),
        "i64": torch.tensor([-(2**40), -1, 0, 1, 2**31 - 1], dtype=torch.int64),
        "i64_small": torch.tensor([[3, -7], [50256, 0]], dtype=torch.int64),
        "i32": torch.tensor([-(2**31), -1, 0, 2**31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-32768, 5, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([[True, False, True]]),
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(2.5),
    }
    meta = {"format": "pt", "written_by": "safetensors_interop.py"}
    outdir.mkdir(parents=True, exist_ok=True)
    data = encode(tensors, meta)
    back, _ = decode(data)
    for k in tensors:
        assert torch.equal(back[k], tensors[k]), k
    (outdir / "python_written.safetensors").write_bytes(data)

    def values(t: torch.Tensor):
        if t.dtype in (torch.float16, torch.bfloat16):
            return {"bits": t.view(torch.int16).to(torch.int32).bitwise_and(0xFFFF).flatten().tolist(),
                    "values": [repr_float(x) for x in t.float().flatten().tolist()]}
        if t.is_floating_point():
            return {"values": [repr_float(x) for x in t.flatten().tolist()]}
        return {"values": [int(x) for x in t.flatten().tolist()]}

    expected = {"metadata": meta,
                "tensors": {k: {"dtype": TORCH_TO_NAME[v.dtype], "shape": list(v.shape), **values(v)}
                            for k, v in tensors.items()}}
    (outdir / "python_written.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"wrote {outdir/'python_written.safetensors'} ({len(data)} bytes) and python_written.json")


def repr_float(x: float):
    # JSON has no inf/nan: spell them as strings
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    return x


def check(path: Path) -> None:
    """Checks the file the TS test writes: see `tsWrittenInputs()` in test/io/safetensors.test.ts."""
    ts, meta = decode(path.read_bytes())
    assert meta == {"writer": "sae-rx", "purpose": "interop"}, meta
    src = torch.tensor(ROUNDING_SOURCES, dtype=torch.float32)
    want = {
        "a_f32": torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8 - 0.5,
        "b_i32": torch.tensor([[-(2**31), 7], [0, 2**31 - 1]], dtype=torch.int32),
        "c_f16": src.to(torch.float16),
        "d_bf16": src.to(torch.bfloat16),
        "e_i64": torch.tensor([-(2**40), -1, 0, 2**53], dtype=torch.int64),
        "f_u8": torch.tensor([0, 17, 255], dtype=torch.uint8),
        "g_bool": torch.tensor([True, False, False, True]),
        "h_empty": torch.zeros(0, 2),
    }
    assert set(ts) == set(want), (sorted(ts), sorted(want))
    for k, w in want.items():
        got = ts[k]
        assert got.dtype == w.dtype and got.shape == w.shape, (k, got.dtype, w.dtype, got.shape, w.shape)
        if w.dtype in (torch.float16, torch.bfloat16):
            # compare bits: torch's conversion is round-to-nearest-even like ours
            assert torch.equal(got.view(torch.int16), w.view(torch.int16)), (k, got, w)
        else:
            assert torch.equal(got, w), (k, got, w)
    print(f"{path}: {len(ts)} tensors match torch (incl. f16/bf16 rounding of {len(src)} values)")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    (write if sys.argv[1] == "write" else check)(Path(sys.argv[2]))
