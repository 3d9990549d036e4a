"""The one hand-written safetensors writer/reader shared by the reference scripts (Debian has no
python3-safetensors). Import it from a script run as `/usr/bin/python3 scripts/reference/X.py`
after `sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))`.

safetensors_interop.py keeps its own encode/decode on purpose: it exercises every dtype, the
size-ordered layout and strict validation, which is the point of that interop fixture.
"""
import json
import struct

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}


def write_safetensors(path, tensors, metadata=None, sort_names=False):
    """Writes float32 tensors in dict order (or sorted by name), header padded with spaces to 8
    bytes, `__metadata__` last when given (non-empty)."""
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors) if sort_names else tensors:
        t = tensors[name]
        b = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns {name: tensor} (own memory, dtype as stored), skipping `__metadata__`."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + b : base + e]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out
