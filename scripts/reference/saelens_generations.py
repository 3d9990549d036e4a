"""SAE folders written the way each SAELens generation writes them, with the outputs of that
architecture computed in plain PyTorch (float64, from the weights as stored, converted to float32
first, which is what sae-rx does on load).

    /usr/bin/python3 scripts/reference/saelens_generations.py

Writes test/fixtures/sae/generations/<case>/{cfg.json, sae_weights.safetensors} and
test/fixtures/sae/generations.json ({x, cases: {case: {feature_acts, sae_out, ...}}}).
Read by test/sae/saeGenerations.test.ts. Seeded: rerunning rewrites identical files.

What each writer puts in cfg.json (read from the SAELens sources, written here by hand):
- 3.x-5.x `SAEConfig.to_dict` (sae_lens/sae.py): a flat dict with `architecture`, `hook_name`,
  `hook_layer`, `activation_fn_str`, `activation_fn_kwargs`, `finetuning_scaling_factor`,
  `normalize_activations` (a string), `dtype` as given ("float32", "bfloat16", ...); the weights
  cast to that dtype. TopK before the `topk` architecture existed: architecture "standard" +
  activation_fn_str "topk" + activation_fn_kwargs {"k": k}.
- 6.x `SAEConfig.to_dict` (sae_lens/saes/sae.py): `d_in, d_sae, dtype, device,
  apply_b_dec_to_input, normalize_activations, reshape_activations, metadata{...}, architecture`
  plus the architecture's own fields (topk: `k`, `rescale_acts_by_decoder_norm`).
- Weight names: standard/topk W_enc W_dec b_enc b_dec (+ `scaling_factor` when fine-tuned,
  pre-6); jumprelu + `threshold` (a v6.18 training checkpoint holds `log_threshold`); gated
  W_enc W_dec b_dec b_gate b_mag r_mag.
"""
import json
import math
import os
import shutil
import struct

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "sae")
GEN = os.path.join(OUT, "generations")
D_IN, D_SAE, N = 16, 48, 12

ST = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
TORCH_DTYPE = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
               "torch.float32": torch.float32, "torch.bfloat16": torch.bfloat16}


def write_st(path, tensors, dtype):
    """safetensors with every tensor cast to `dtype` (raw little-endian storage)."""
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        t = t.detach().to(dtype).contiguous()
        if dtype == torch.bfloat16:
            b = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            b = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": ST[dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def as_loaded(t, dtype):
    """What a reader gets: the stored dtype's value, converted to float32, computed in float64."""
    return t.to(dtype).to(torch.float32).to(torch.float64)


# ---- run-time normalisation, as SAELens 6's SAE._setup_activation_normalization ----------------
def norm_in(mode, x):
    if mode == "constant_norm_rescale":
        c = math.sqrt(x.shape[-1]) / x.norm(dim=-1, keepdim=True)
        return x * c, lambda y: y / c
    if mode == "layer_norm":
        mu = x.mean(dim=-1, keepdim=True)
        x = x - mu
        std = x.std(dim=-1, keepdim=True)  # unbiased, as torch's default
        return x / (std + 1e-5), lambda y: y * std + mu
    return x, lambda y: y  # none, expected_average_only_in (nothing at run time)


def forward(arch, w, x, mode, apply_b_dec=True, act="relu", k=None, rescale=False):
    xin, out_fn = norm_in(mode, x)
    sae_in = xin - w["b_dec"] * (1.0 if apply_b_dec else 0.0)
    if arch == "gated":
        gate = ((sae_in @ w["W_enc"] + w["b_gate"]) > 0).to(torch.float64)
        mag = torch.relu(sae_in @ (w["W_enc"] * w["r_mag"].exp()) + w["b_mag"])
        f = gate * mag
        hidden_pre = sae_in @ (w["W_enc"] * w["r_mag"].exp()) + w["b_mag"]
    else:
        hidden_pre = sae_in @ w["W_enc"] + w["b_enc"]
        h = hidden_pre
        if arch == "jumprelu":
            f = torch.relu(h) * (h > w["threshold"].relu()).to(torch.float64)
        elif arch == "topk":
            if rescale:
                h = h * w["W_dec"].norm(dim=-1)
            vals, idx = torch.topk(h, k, dim=-1)
            f = torch.zeros_like(h).scatter(-1, idx, vals.relu())
        elif act == "tanh-relu":
            f = torch.tanh(torch.relu(h))
        else:
            f = torch.relu(h)
    fd = f
    if arch == "topk" and rescale:
        fd = f / w["W_dec"].norm(dim=-1)
    if "scaling_factor" in w:
        fd = fd * w["scaling_factor"]
    out = out_fn(fd @ w["W_dec"] + w["b_dec"])
    return f, out


def weights(gen, arch, fold_thresh=True):
    w = {
        "W_enc": torch.randn(D_IN, D_SAE, generator=gen) * 0.3,
        "W_dec": torch.randn(D_SAE, D_IN, generator=gen) * 0.25,
        "b_enc": torch.randn(D_SAE, generator=gen) * 0.1,
        "b_dec": torch.randn(D_IN, generator=gen) * 0.2,
    }
    if arch == "jumprelu":
        w["threshold"] = torch.rand(D_SAE, generator=gen) * 0.4 + 0.05
    if arch == "gated":
        del w["b_enc"]
        w["b_gate"] = torch.randn(D_SAE, generator=gen) * 0.2
        w["b_mag"] = torch.randn(D_SAE, generator=gen) * 0.2
        w["r_mag"] = torch.randn(D_SAE, generator=gen) * 0.3
    return w


def v5_cfg(arch, dtype, norm, act="relu", kwargs=None, finetuning=False, version="5.4.0"):
    # SAELens 3.x-5.x SAEConfig.to_dict (+ the training config's keys a runner also dumps)
    return {
        "architecture": arch, "d_in": D_IN, "d_sae": D_SAE, "dtype": dtype, "device": "cpu",
        "model_name": "gpt2", "hook_name": "blocks.5.hook_resid_pre", "hook_layer": 5, "hook_head_index": None,
        "activation_fn_str": act, "activation_fn_kwargs": kwargs or {}, "apply_b_dec_to_input": True,
        "finetuning_scaling_factor": finetuning, "sae_lens_training_version": version, "prepend_bos": True,
        "dataset_path": "Skylion007/openwebtext", "dataset_trust_remote_code": True, "context_size": 128,
        "normalize_activations": norm, "neuronpedia_id": None, "model_from_pretrained_kwargs": {},
        "seqpos_slice": [None],
    }


def v6_cfg(arch, dtype, norm, extra=None, version="6.18.0"):
    c = {
        "d_in": D_IN, "d_sae": D_SAE, "dtype": dtype, "device": "cpu", "apply_b_dec_to_input": True,
        "normalize_activations": norm, "reshape_activations": "none",
        "metadata": {
            "sae_lens_version": version, "sae_lens_training_version": version, "model_name": "pythia-70m-deduped",
            "hook_name": "blocks.2.hook_resid_post", "hook_head_index": None, "prepend_bos": True,
            "dataset_path": "NeelNanda/pile-small-tokenized-2b", "context_size": 64,
            "model_class_name": "HookedTransformer", "model_from_pretrained_kwargs": {}, "seqpos_slice": [None],
            "exclude_special_tokens": False,
        },
    }
    c.update(extra or {})
    c["architecture"] = arch
    return c


# case name -> (arch for the forward, cfg, stored dtype, forward kwargs, weights transform)
CASES = [
    ("v3_standard_f64", "standard", v5_cfg("standard", "float64", "none", version="3.5.0"), torch.float64, {}),
    ("v4_topk_as_standard_bf16", "topk", v5_cfg("standard", "bfloat16", "none", act="topk", kwargs={"k": 5}, version="4.0.0"),
     torch.bfloat16, {"k": 5}),
    ("v5_topk_f32", "topk", v5_cfg("topk", "float32", "none", act="topk", kwargs={"k": 7}), torch.float32, {"k": 7}),
    ("v5_tanh_finetuned", "standard", v5_cfg("standard", "float32", "none", act="tanh-relu", finetuning=True), torch.float32,
     {"act": "tanh-relu"}),
    ("v5_jumprelu_f16_constant_norm", "jumprelu", v5_cfg("jumprelu", "float16", "constant_norm_rescale"), torch.float16, {}),
    ("v5_gated_layer_norm", "gated", v5_cfg("gated", "float32", "layer_norm"), torch.float32, {}),
    ("v6_standard_constant_norm", "standard", v6_cfg("standard", "float32", "constant_norm_rescale"), torch.float32, {}),
    ("v6_standard_layer_norm_bf16", "standard", v6_cfg("standard", "bfloat16", "layer_norm"), torch.bfloat16, {}),
    ("v6_jumprelu", "jumprelu", v6_cfg("jumprelu", "float32", "none"), torch.float32, {}),
    ("v6_jumprelu_log_threshold", "jumprelu", v6_cfg("jumprelu", "float32", "none", version="6.10.0"), torch.float32, {}),
    ("v6_topk_rescale_f64", "topk", v6_cfg("topk", "float64", "none", {"k": 6, "rescale_acts_by_decoder_norm": True}),
     torch.float64, {"k": 6, "rescale": True}),
    ("v6_gated_layer_norm", "gated", v6_cfg("gated", "float32", "layer_norm"), torch.float32, {}),
    ("v6_expected_average_only_in", "standard", v6_cfg("standard", "float32", "expected_average_only_in"), torch.float32, {}),
]


def main():
    gen = torch.Generator().manual_seed(1212)
    shutil.rmtree(GEN, ignore_errors=True)
    os.makedirs(GEN)
    x = torch.randn(N, D_IN, generator=gen) * 2.0 + 0.5
    x64 = x.to(torch.float64)
    out = {"d_in": D_IN, "d_sae": D_SAE, "n": N, "x": x.flatten().tolist(), "cases": {}}
    for name, arch, cfg, dtype, kw in CASES:
        w = weights(gen, arch)
        stored = dict(w)
        if name == "v5_tanh_finetuned":
            # SAELens 5's SAE names the parameter finetuning_scaling_factor in its state dict
            stored["finetuning_scaling_factor"] = torch.rand(D_SAE, generator=gen) + 0.5
        if name == "v6_jumprelu_log_threshold":
            del stored["threshold"]
            stored["log_threshold"] = torch.log(w["threshold"])
        d = os.path.join(GEN, name)
        os.makedirs(d)
        write_st(os.path.join(d, "sae_weights.safetensors"), stored, dtype)
        with open(os.path.join(d, "cfg.json"), "w") as f:
            json.dump(cfg, f)
        loaded = {k: as_loaded(v, dtype) for k, v in stored.items()}
        if "log_threshold" in loaded:
            # SAELens converts on load with exp, in the stored dtype (float32 here)
            loaded["threshold"] = torch.exp(stored["log_threshold"].to(torch.float32)).to(torch.float64)
            del loaded["log_threshold"]
        if "finetuning_scaling_factor" in loaded:
            loaded["scaling_factor"] = loaded.pop("finetuning_scaling_factor")
        f_acts, sae_out = forward(arch, loaded, x64, cfg["normalize_activations"], **kw)
        out["cases"][name] = {
            "architecture": arch,
            "feature_acts": f_acts.flatten().tolist(),
            "sae_out": sae_out.flatten().tolist(),
            "l0": float((f_acts > 0).to(torch.float64).sum(-1).mean()),
        }
    with open(os.path.join(OUT, "generations.json"), "w") as f:
        json.dump(out, f)
    for name, c in out["cases"].items():
        print(f"{name}: l0 {c['l0']:.2f}")


if __name__ == "__main__":
    main()
