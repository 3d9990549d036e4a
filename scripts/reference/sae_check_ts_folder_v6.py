#!/usr/bin/env python3
"""Checks the SAE folders sae-rx writes in SAELens 6's layout (test/fixtures/sae/ts_written_v6/,
kept byte-identical to the writer by test/sae/saeInteropV6.test.ts) the way SAELens 6 loads a
folder (sae_lens/saes/sae.py load_from_disk, loading/pretrained_sae_loaders.py):

- cfg.json: `handle_config_defaulting` takes metadata.sae_lens_version >= 6.0 (no pre-6
  conversion); `architecture` names an inference class; `dtype` is in DTYPE_MAP; the config
  dataclass fields (d_in, d_sae, apply_b_dec_to_input, normalize_activations,
  reshape_activations) are there; metadata has hook_name.
- sae_weights.safetensors: exactly the state-dict keys of that class (load_state_dict is strict),
  with its shapes, F32.
- outputs: the architecture's forward (saelens_generations.forward, plain torch) on the same x
  equals what sae-rx computed (ts_written_v6_outputs.json).

    /usr/bin/python3 scripts/reference/sae_check_ts_folder_v6.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saelens_generations import forward  # noqa: E402
from st_io import read_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "test", "fixtures", "sae")
KEYS = {
    "standard": ["W_dec", "W_enc", "b_dec", "b_enc"],
    "topk": ["W_dec", "W_enc", "b_dec", "b_enc"],
    "jumprelu": ["W_dec", "W_enc", "b_dec", "b_enc", "threshold"],
    "gated": ["W_dec", "W_enc", "b_dec", "b_gate", "b_mag", "r_mag"],
}
DTYPES = ["float32", "float64", "float16", "bfloat16", "torch.float32"]


def main():
    out = json.load(open(os.path.join(FIX, "ts_written_v6_outputs.json")))
    x = torch.tensor(out["x"], dtype=torch.float64).reshape(out["shape"])
    worst = 0.0
    for name, expect in out["saes"].items():
        d = os.path.join(FIX, "ts_written_v6", name)
        cfg = json.load(open(os.path.join(d, "cfg.json")))
        ver = cfg["metadata"]["sae_lens_version"]
        assert int(ver.split(".")[0]) >= 6, (name, ver)
        arch = cfg["architecture"]
        assert arch in KEYS, (name, arch)
        assert cfg["dtype"] in DTYPES, (name, cfg["dtype"])
        for k in ["d_in", "d_sae", "apply_b_dec_to_input", "normalize_activations", "reshape_activations"]:
            assert k in cfg, (name, k)
        assert "hook_name" in cfg["metadata"], name
        w = read_safetensors(os.path.join(d, "sae_weights.safetensors"))
        assert sorted(w) == KEYS[arch], (name, sorted(w))
        d_in, d_sae = cfg["d_in"], cfg["d_sae"]
        shapes = {"W_enc": [d_in, d_sae], "W_dec": [d_sae, d_in], "b_dec": [d_in]}
        for k, t in w.items():
            assert t.dtype == torch.float32, (name, k, t.dtype)
            assert list(t.shape) == shapes.get(k, [d_sae]), (name, k, list(t.shape))
        kw = {}
        if arch == "topk":
            kw = {"k": cfg["k"], "rescale": cfg.get("rescale_acts_by_decoder_norm", False)}
        w64 = {k: v.to(torch.float64) for k, v in w.items()}
        f, sae_out = forward(arch, w64, x, cfg["normalize_activations"], apply_b_dec=cfg["apply_b_dec_to_input"], **kw)
        ef = torch.tensor(expect["feature_acts"], dtype=torch.float64).reshape(f.shape)
        eo = torch.tensor(expect["sae_out"], dtype=torch.float64).reshape(sae_out.shape)
        err = max(float((f - ef).abs().max()), float((sae_out - eo).abs().max()))
        worst = max(worst, err)
        print(f"{name}: architecture {arch}, keys {sorted(w)}, max abs error {err:.2e}")
        assert err < 1e-5, name
    print(f"all folders load as SAELens 6 loads them; worst max abs error {worst:.2e}")


if __name__ == "__main__":
    main()
