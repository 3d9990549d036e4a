"""Loads an SAE folder written by sae-rx (`test/fixtures/sae/ts_written/`) with plain torch, the
way SAELens v1.5's `SparseAutoencoder.load_from_pretrained` reads a folder (cfg.json +
sae_weights.safetensors), checks SAELens's tensor names, shapes and dtypes, runs SAELens's
forward (sae_in = x - b_dec; f = relu(sae_in @ W_enc + b_enc); (f * scaling_factor) @ W_dec + b_dec) and
compares with the outputs sae-rx computed (`ts_written_outputs.json`).

    /usr/bin/python3 scripts/reference/sae_check_ts_folder.py test/fixtures/sae

The safetensors files are parsed by hand (struct + json): Debian has no python3-safetensors.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_io import read_safetensors  # noqa: E402

def main(fixtures):
    folder = os.path.join(fixtures, "ts_written")
    cfg = json.load(open(os.path.join(folder, "cfg.json")))
    w = read_safetensors(os.path.join(folder, "sae_weights.safetensors"))
    d_in, d_sae = cfg["d_in"], cfg["d_sae"]
    want = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,), "scaling_factor": (d_sae,)}
    for name, shape in want.items():
        assert name in w, f"missing tensor {name}"
        assert tuple(w[name].shape) == shape, f"{name}: shape {tuple(w[name].shape)} != {shape}"
        assert w[name].dtype == torch.float32, f"{name}: dtype {w[name].dtype}"
    assert set(w) == set(want), f"unexpected tensors {set(w) - set(want)}"
    sparsity = read_safetensors(os.path.join(folder, "sparsity.safetensors"))
    assert tuple(sparsity["sparsity"].shape) == (d_sae,)
    assert cfg["hook_point"] and cfg["dtype"] == "torch.float32"

    exp = json.load(open(os.path.join(fixtures, "ts_written_outputs.json")))
    x = torch.tensor(exp["x"], dtype=torch.float32).reshape(exp["shape"])
    # SAELens v1.5 SparseAutoencoder.forward
    sae_in = x - w["b_dec"] * cfg["apply_b_dec_to_input"]
    hidden_pre = sae_in @ w["W_enc"] + w["b_enc"]
    feature_acts = torch.relu(hidden_pre) if cfg["activation_fn"] == "relu" else torch.relu(torch.tanh(hidden_pre))
    sae_out = (feature_acts * w["scaling_factor"]) @ w["W_dec"] + w["b_dec"]
    fa = torch.tensor(exp["feature_acts"]).reshape(feature_acts.shape)
    so = torch.tensor(exp["sae_out"]).reshape(sae_out.shape)
    err_f = (fa - feature_acts).abs().max().item()
    err_o = (so - sae_out).abs().max().item()
    print(json.dumps({"feature_acts_max_abs_err": err_f, "sae_out_max_abs_err": err_o}))
    assert err_f < 1e-5 and err_o < 1e-5, "outputs differ"
    print("ok: sae-rx's folder loads in torch with SAELens's names/shapes and gives the same outputs")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/sae")
