#!/usr/bin/python3
"""Reference numbers for src/analysis/featureStatistics.ts and src/analysis/tsea.ts
(SAELens v1.5.0 analysis/feature_statistics.py and analysis/tsea.py), written from the
formulas of those files in plain torch/numpy.

1. Trains a small SAE (d_in 128, d_sae 64, ReLU + L1, unit-norm decoder, 400 Adam steps) on the
   tiny GPT-2's blocks.1.hook_resid_pre activations (plain-torch forward of evals_reference.py,
   on seeded random token sequences), and measures its feature density on held-out tokens.
   Writes it as an SAE folder in SAELens v1.5's layout: test/fixtures/analysis/sae/
   (cfg.json, sae_weights.safetensors, sparsity.safetensors).
2. W_U as TransformerLens's from_pretrained sees it: ln_final's weight folded in, centered over
   d_model, then centered over the vocabulary (center_unembed).
3. Feature properties (get_feature_property_df) in float32 torch, as SAELens computes them, and
   the two projections in float64 from the float32 weights.
4. Logit-weight statistics of W_dec @ W_U (get_stats_df): mean, std, skewness, kurtosis, in
   float64 from the float32 weights, and SAELens's float32 numbers beside them; top/bottom 10.
5. TSEA: the letter sets and the 17 regex sets of SAELens's tutorial over the tokenizer's
   vocabulary, and calculate_batch_enrichment_scores for every feature and set, in float64 with
   a stable descending sort (ties broken by token id); SAELens's float32 scores beside them.

Writes test/fixtures/analysis/feature_stats_reference.json.
Usage: /usr/bin/python3 scripts/reference/feature_stats_reference.py  (from the repo root)
"""
import json
import math
import os
import re
import string
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from evals_reference import gpt2_forward  # noqa: E402
from st_io import read_safetensors, write_safetensors  # noqa: E402

MODEL = "../shared/models/tiny-gpt2-sotu"
OUT = "test/fixtures/analysis"
HOOK = "blocks.1.hook_resid_pre"
D_SAE = 64
SEED = 7

REGEX_SETS = {
    "starts_with_space": r"Ġ.*",
    "starts_with_capital": r"^Ġ*[A-Z].*",
    "starts_with_lower": r"^Ġ*[a-z].*",
    "all_digits": r"^Ġ*\d+$",
    "is_punctuation": r"^[^\w\s]+$",
    "contains_close_bracket": r".*\).*",
    "contains_open_bracket": r".*\(.*",
    "all_caps": r"Ġ*[A-Z]+$",
    "1 digit": r"Ġ*\d{1}$",
    "2 digits": r"Ġ*\d{2}$",
    "3 digits": r"Ġ*\d{3}$",
    "4 digits": r"Ġ*\d{4}$",
    "length_1": r"^Ġ*\w{1}$",
    "length_2": r"^Ġ*\w{2}$",
    "length_3": r"^Ġ*\w{3}$",
    "length_4": r"^Ġ*\w{4}$",
    "length_5": r"^Ġ*\w{5}$",
}


def train_sae(x, d_sae, steps=400, l1=0.5, lr=3e-3):
    g = torch.Generator().manual_seed(SEED)
    d_in = x.shape[1]
    W_dec = torch.randn(d_sae, d_in, generator=g)
    W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)
    P = {
        "W_enc": W_dec.T.clone().requires_grad_(True),
        "b_enc": torch.zeros(d_sae, requires_grad=True),
        "W_dec": W_dec.clone().requires_grad_(True),
        "b_dec": x.mean(0).clone().requires_grad_(True),
    }
    opt = torch.optim.Adam(P.values(), lr=lr, betas=(0.0, 0.999))
    n = x.shape[0]
    for step in range(steps):
        with torch.no_grad():
            P["W_dec"].data /= P["W_dec"].data.norm(dim=1, keepdim=True)
        idx = torch.randint(0, n, (256,), generator=g)
        xb = x[idx]
        f = torch.relu((xb - P["b_dec"]) @ P["W_enc"] + P["b_enc"])
        out = f @ P["W_dec"] + P["b_dec"]
        loss = (out - xb).pow(2).sum(-1).mean() + l1 * f.abs().sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        P["W_dec"].data /= P["W_dec"].data.norm(dim=1, keepdim=True)
    return {k: v.detach().float() for k, v in P.items()}


def processed_W_U(W):
    # TransformerLens from_pretrained: fold_ln (W_U *= ln_f.w[:, None], centered over d_model),
    # then center_unembed (centered over the vocabulary).
    W_U = W["transformer.wte.weight"].double().T * W["transformer.ln_f.weight"].double()[:, None]
    W_U = W_U - W_U.mean(0, keepdim=True)
    W_U = W_U - W_U.mean(-1, keepdim=True)
    return W_U.float()


def stats(proj):
    mean = proj.mean(dim=1, keepdim=True)
    diffs = proj - mean
    var = (diffs**2).mean(dim=1, keepdim=True)
    std = torch.pow(var, 0.5)
    z = diffs / std
    return mean[:, 0], std[:, 0], torch.mean(z**3, dim=1), torch.mean(z**4, dim=1)


def enrichment(scores, sets, stable):
    """calculate_batch_enrichment_scores, one set at a time (same maths, less memory)."""
    n_scores, vocab = scores.shape
    if stable:
        _, order = torch.sort(scores, dim=1, descending=True, stable=True)
    else:
        _, order = scores.sort(dim=1, descending=True)
    out = torch.zeros(len(sets), n_scores, dtype=scores.dtype)
    for i, ids in enumerate(sets):
        mask = torch.zeros(vocab, dtype=torch.bool)
        mask[torch.tensor(sorted(ids))] = True
        hits = mask[order]  # [n_scores, vocab]
        k = float(len(ids))
        inc = torch.tensor(1.0 / k, dtype=scores.dtype)
        dec = torch.tensor(1.0 / (vocab - k), dtype=scores.dtype)
        run = torch.where(hits, inc, -dec).cumsum(dim=1)
        out[i] = run.abs().max(dim=1).values
    return out


def letter_sets(vocab):
    sets = {c: set() for c in string.ascii_lowercase}
    for tok, i in vocab.items():
        clean = tok.strip("Ġ")
        if clean.isalpha() and clean[0].lower() in string.ascii_lowercase:
            sets[clean[0].lower()].add(i)
    return sets


def set_digest(ids):
    ids = sorted(ids)
    return {"size": len(ids), "sum": int(sum(ids)), "sum_sq": int(sum(i * i for i in ids)), "first": ids[:5]}


def main():
    torch.manual_seed(SEED)
    with open(os.path.join(MODEL, "config.json")) as fh:
        cfg = json.load(fh)
    W32 = read_safetensors(os.path.join(MODEL, "model.safetensors"))
    W = {k: v.double() for k, v in W32.items()}
    d_in = cfg["n_embd"]
    g = torch.Generator().manual_seed(SEED)
    tokens = torch.randint(0, cfg["vocab_size"] - 1, (48, 32), generator=g)
    acts = []
    for b in range(0, tokens.shape[0], 8):
        cache = {}
        gpt2_forward(cfg, W, tokens[b : b + 8], cache=cache)
        acts.append(cache[HOOK].reshape(-1, d_in).float())
    acts = torch.cat(acts)
    train, held = acts[:1024], acts[1024:]
    S = train_sae(train, D_SAE)
    with torch.no_grad():
        f = torch.relu((held - S["b_dec"]) @ S["W_enc"] + S["b_enc"])
        freq = (f > 0).float().mean(0)
        log_sparsity = torch.log10(freq + 1e-10).float()
    n_dead = int((log_sparsity < -9).sum())

    sae_dir = os.path.join(OUT, "sae")
    os.makedirs(sae_dir, exist_ok=True)
    write_safetensors(
        os.path.join(sae_dir, "sae_weights.safetensors"),
        {**S, "scaling_factor": torch.ones(D_SAE)},
    )
    write_safetensors(os.path.join(sae_dir, "sparsity.safetensors"), {"sparsity": log_sparsity})
    with open(os.path.join("test/fixtures/evals/sae/cfg.json")) as fh:
        sae_cfg = json.load(fh)
    sae_cfg.update({"d_sae": D_SAE, "expansion_factor": D_SAE / d_in, "run_name": "feature-stats-reference", "context_size": 32})
    with open(os.path.join(sae_dir, "cfg.json"), "w") as fh:
        json.dump(sae_cfg, fh)

    # --- feature properties: SAELens's code, float32 torch
    W_dec_n = S["W_dec"]
    W_enc_n = (S["W_enc"] / S["W_enc"].norm(dim=-1, keepdim=True)).T
    d_e = (W_dec_n * W_enc_n).sum(-1)
    b_dec_proj = S["b_dec"] @ W_dec_n.T
    props = {
        "log_feature_sparsity": (log_sparsity + 1e-10).tolist(),
        "d_e_projection": d_e.tolist(),
        "b_enc": S["b_enc"].tolist(),
        "b_dec_projection": b_dec_proj.tolist(),
        "dead_neuron": (log_sparsity < -9).tolist(),
    }
    # the same in float64 from the float32 weights (sae-rx sums the projections in float64)
    Wd, We = S["W_dec"].double(), S["W_enc"].double()
    props["d_e_projection_float64"] = (Wd * (We / We.norm(dim=-1, keepdim=True)).T).sum(-1).tolist()
    props["b_dec_projection_float64"] = (S["b_dec"].double() @ Wd.T).tolist()

    # --- logit weight statistics
    W_U = processed_W_U(W32)
    proj32 = S["W_dec"] @ W_U
    proj64 = S["W_dec"].double() @ W_U.double()
    m64, s64, sk64, ku64 = stats(proj64)
    m32, s32, sk32, ku32 = stats(proj32)
    top = torch.sort(proj64, dim=1, descending=True, stable=True).indices[:, :10]
    bottom = torch.sort(proj64, dim=1, descending=False, stable=True).indices[:, :10]
    logit = {
        "mean": m64.tolist(), "std": s64.tolist(), "skewness": sk64.tolist(), "kurtosis": ku64.tolist(),
        "saelens_float32": {"mean": m32.tolist(), "std": s32.tolist(), "skewness": sk32.tolist(), "kurtosis": ku32.tolist()},
        "top_tokens": top.tolist(), "top_values": proj64.gather(1, top).tolist(),
        "bottom_tokens": bottom.tolist(), "bottom_values": proj64.gather(1, bottom).tolist(),
    }
    cos_U = W_U / W_U.norm(dim=0, keepdim=True)
    mc, sc, skc, kuc = stats(S["W_dec"].double() @ cos_U.double())
    logit["cosine_sim"] = {"mean": mc.tolist(), "std": sc.tolist(), "skewness": skc.tolist(), "kurtosis": kuc.tolist()}

    # --- TSEA token sets and enrichment scores
    with open(os.path.join(MODEL, "tokenizer.json")) as fh:
        tok = json.load(fh)
    vocab = dict(tok["model"]["vocab"])
    for a in tok.get("added_tokens", []):
        vocab[a["content"]] = a["id"]
    sets = letter_sets(vocab)
    for name, pattern in REGEX_SETS.items():
        sets[name] = {i for t, i in vocab.items() if re.match(pattern, t)}
    sets = {k: v for k, v in sets.items() if len(v) > 0}
    names = list(sets.keys())
    ids = [sets[n] for n in names]
    es64 = enrichment(proj64, ids, stable=True)
    es32 = enrichment(proj32, ids, stable=False)
    tsea = {
        "sets": {n: set_digest(sets[n]) for n in names},
        "set_names": names,
        "scores": es64.tolist(),
        "saelens_float32_scores": es32.tolist(),
        "max_abs_diff_float32_vs_float64": float((es64 - es32.double()).abs().max()),
    }

    with open(os.path.join(OUT, "feature_stats_reference.json"), "w") as fh:
        json.dump({
            "about": "scripts/reference/feature_stats_reference.py: SAE in sae/ (trained here) on tiny-gpt2-sotu " + HOOK,
            "d_sae": D_SAE, "vocab": int(W_U.shape[1]), "n_dead": n_dead,
            "properties": props, "logit_stats": logit, "tsea": tsea,
        }, fh)
    ev = 1 - ((torch.relu((held - S["b_dec"]) @ S["W_enc"] + S["b_enc"]) @ S["W_dec"] + S["b_dec"] - held).pow(2).sum() / (held - held.mean(0)).pow(2).sum())
    print(json.dumps({"dead": n_dead, "l0": float((f > 0).float().sum(-1).mean()), "explained_variance": float(ev),
                      "tsea_float32_vs_float64": tsea["max_abs_diff_float32_vs_float64"]}))


if __name__ == "__main__":
    main()
