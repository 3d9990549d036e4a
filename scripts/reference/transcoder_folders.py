#!/usr/bin/env python3
"""
Transcoder folders written the way their publishers write them, with the outputs of each computed
in plain PyTorch (float64 from the stored float32 weights) by SAELens 6's inference formulas
(sae_lens/saes/transcoder.py: h = x W_enc + b_enc, no b_dec on the input; transcoder f = relu(h);
JumpReLU transcoder f = relu(h)·1[h > θ]; ŷ = f W_dec + b_dec (+ x W_skipᵀ for skip transcoders)).

    /usr/bin/python3 scripts/reference/transcoder_folders.py

Writes test/fixtures/sae/transcoder_folders/ and transcoder_folders.json (x, and per case
feature_acts and sae_out), read by test/sae/transcoderFolders.test.ts:
- saelens6_transcoder, saelens6_jumprelu_skip_transcoder: SAELens 6's save layout
  (`SAEConfig.to_dict` of TranscoderConfig: architecture, d_in, d_sae, d_out, dtype, device,
  apply_b_dec_to_input false, normalize_activations, reshape_activations, metadata with hook_name
  and hook_name_out, hook_head_index_out), sae_weights.safetensors W_enc W_dec b_enc b_dec
  (+ threshold, W_skip).
- gemma_scope/layer_3/width_32/average_l0_5/params.npz: Gemma Scope (1) transcoders as
  numpy.savez writes them (W_enc, W_dec, b_enc, b_dec, threshold); layer_4/…: the same weights
  written by numpy.savez_compressed (deflated zip entries).
- gemma_scope_2/transcoder/layer_2_width_32_l0_small/{params.safetensors, config.json}: Gemma Scope
  2 (w_enc, w_dec, b_enc, b_dec, threshold, affine_skip_connection [d_in, d_out]; config.json
  with "architecture": "jump_relu").
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_io import write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "sae")
DIR = os.path.join(OUT, "transcoder_folders")
D_IN, D_OUT, D_SAE, N = 12, 10, 32, 9


def weights(g, jumprelu, skip):
    w = {
        "W_enc": torch.randn(D_IN, D_SAE, generator=g) * 0.4,
        "W_dec": torch.randn(D_SAE, D_OUT, generator=g) * 0.3,
        "b_enc": torch.randn(D_SAE, generator=g) * 0.2,
        "b_dec": torch.randn(D_OUT, generator=g) * 0.1,
    }
    if jumprelu:
        w["threshold"] = torch.rand(D_SAE, generator=g) * 0.4 + 0.05
    if skip:
        w["W_skip"] = torch.randn(D_OUT, D_IN, generator=g) * 0.2
    return w


def forward(w, x):
    w = {k: v.double() for k, v in w.items()}
    x = x.double()
    h = x @ w["W_enc"] + w["b_enc"]
    f = torch.relu(h)
    if "threshold" in w:
        f = f * (h > w["threshold"]).double()
    out = f @ w["W_dec"] + w["b_dec"]
    if "W_skip" in w:
        out = out + x @ w["W_skip"].T
    return f, out


def saelens6_cfg(arch):
    return {
        "architecture": arch, "d_in": D_IN, "d_sae": D_SAE, "d_out": D_OUT, "dtype": "float32", "device": "cpu",
        "apply_b_dec_to_input": False, "normalize_activations": "none", "reshape_activations": "none",
        "metadata": {"sae_lens_version": "6.18.0", "sae_lens_training_version": None, "model_name": "gelu-1l",
                     "hook_name": "blocks.0.ln2.hook_normalized", "hook_head_index": None,
                     "hook_name_out": "blocks.0.hook_mlp_out", "hook_head_index_out": None,
                     "context_size": 128, "prepend_bos": True, "dataset_path": "NeelNanda/c4-tokenized-2b"},
    }


def main():
    g = torch.Generator().manual_seed(77)
    x = torch.randn(N, D_IN, generator=g) * 1.3
    cases = {}

    for arch, jr, skip in [("transcoder", False, False), ("jumprelu_skip_transcoder", True, True)]:
        name = f"saelens6_{arch}"
        d = os.path.join(DIR, name)
        os.makedirs(d, exist_ok=True)
        w = weights(g, jr, skip)
        with open(os.path.join(d, "cfg.json"), "w") as f:
            json.dump(saelens6_cfg(arch), f, indent=2)
        write_safetensors(os.path.join(d, "sae_weights.safetensors"), w)
        fa, out = forward(w, x)
        cases[name] = {"path": name, "architecture": arch, "feature_acts": fa.reshape(-1).tolist(), "sae_out": out.reshape(-1).tolist()}

    # Gemma Scope (1): params.npz, numpy.savez, SAELens's key names
    rel = os.path.join("gemma_scope", "layer_3", "width_32", "average_l0_5")
    d = os.path.join(DIR, rel)
    os.makedirs(d, exist_ok=True)
    w = weights(g, True, False)
    np.savez(os.path.join(d, "params.npz"), **{k: v.numpy() for k, v in w.items()})
    fa, out = forward(w, x)
    cases["gemma_scope"] = {"path": rel, "architecture": "jumprelu_transcoder", "layer": 3,
                            "feature_acts": fa.reshape(-1).tolist(), "sae_out": out.reshape(-1).tolist()}
    # the same weights deflated (numpy.savez_compressed), one layer up
    rel = os.path.join("gemma_scope", "layer_4", "width_32", "average_l0_5")
    os.makedirs(os.path.join(DIR, rel), exist_ok=True)
    np.savez_compressed(os.path.join(DIR, rel, "params.npz"), **{k: v.numpy() for k, v in w.items()})
    cases["gemma_scope_compressed"] = {**cases["gemma_scope"], "path": rel, "layer": 4}

    # Gemma Scope 2: params.safetensors (lower-case names, affine_skip_connection [d_in, d_out]) + config.json
    rel = os.path.join("gemma_scope_2", "transcoder", "layer_2_width_32_l0_small")
    d = os.path.join(DIR, rel)
    os.makedirs(d, exist_ok=True)
    w = weights(g, True, True)
    stored = {"w_enc": w["W_enc"], "w_dec": w["W_dec"], "b_enc": w["b_enc"], "b_dec": w["b_dec"], "threshold": w["threshold"],
              "affine_skip_connection": w["W_skip"].T.contiguous()}
    write_safetensors(os.path.join(d, "params.safetensors"), stored)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"architecture": "jump_relu", "model_name": "gemma-v3-270m-pt", "hf_hook_point_in": "model.layers.2.pre_feedforward_layernorm.output",
                   "hf_hook_point_out": "model.layers.2.post_feedforward_layernorm.output"}, f, indent=2)
    fa, out = forward(w, x)
    cases["gemma_scope_2"] = {"path": rel, "architecture": "jumprelu_skip_transcoder", "layer": 2,
                              "feature_acts": fa.reshape(-1).tolist(), "sae_out": out.reshape(-1).tolist()}

    with open(os.path.join(OUT, "transcoder_folders.json"), "w") as f:
        json.dump({"d_in": D_IN, "d_out": D_OUT, "d_sae": D_SAE, "n": N, "x": x.reshape(-1).tolist(), "cases": cases}, f)
    print("wrote", DIR, "and transcoder_folders.json")


if __name__ == "__main__":
    main()
