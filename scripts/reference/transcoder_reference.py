#!/usr/bin/env python3
"""
Plain-PyTorch reference for sae-rx's transcoder architectures (src/sae/architectures/transcoder.ts).
Our own code, written from SAELens 6's formulas (sae_lens/saes/transcoder.py: W_enc [d_in, d_sae],
W_dec [d_sae, d_out], b_dec [d_out], no b_dec on the input, W_skip [d_out, d_in] with
out += x W_skipᵀ; JumpReLU transcoder f = relu(h)·1[h > θ]) and, for the training losses SAELens
does not have for transcoders, the SAE losses of the base architecture with the target y in
place of x (standard_v6's decoder-norm-weighted L1; JumpReLU's step/tanh L0 and pre-act loss;
TopK / BatchTopK with AuxK on sg(y − ŷ), k_aux = d_in // 2 as SAELens computes it), and SAELens
6's trainer step (dead mask before the forward pass, clip_grad_norm_(1.0), Adam, coefficient
warm-up value·min(k, W)/W, BatchTopK's threshold EMA in float64).

    /usr/bin/python3 scripts/reference/transcoder_reference.py

Writes test/fixtures/sae/transcoders.json:
- `cases`: for each of the 8 transcoder architectures, forward outputs, every loss term and
  every parameter gradient (float64 from float32 inputs), d_in 8 → d_out 6, with dead latents;
  compared by test/sae/transcoders.test.ts to 1e-5.
- `trajectories`: 150 Adam steps per architecture (float32 like sae-rx) on SyntheticPairs
  batches (x and y built from the same sparse codes through two dictionaries; reproduced in TS
  by test/sae/syntheticPairs.ts), losses per step and parameters at checkpoints; `divergence`:
  how far the same run drifts when W_enc is perturbed by 1e-7 relative (the horizon over which
  float32 runs can be compared).
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sae_reference import Mulberry32, f32list  # noqa: E402
from saelens6_reference import aux_acts, batch_topk_acts, topk_acts  # noqa: E402
from jumprelu_gated_reference import JumpReLUFn, StepFn, max_rel  # noqa: E402

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "test", "fixtures", "sae"))

ARCHS = {
    # name: (base, skip)
    "transcoder": ("standard", False),
    "skip_transcoder": ("standard", True),
    "jumprelu_transcoder": ("jumprelu", False),
    "jumprelu_skip_transcoder": ("jumprelu", True),
    "topk_transcoder": ("topk", False),
    "topk_skip_transcoder": ("topk", True),
    "batchtopk_transcoder": ("batchtopk", False),
    "batchtopk_skip_transcoder": ("batchtopk", True),
}


class SyntheticPairs:
    """x = mu + Σ_k c_k D_k + noise_x, y = nu + Σ_k c_k E_k + noise_y: the same sparse codes
    (c_k = 3·u' with probability 0.15) through two dictionaries; float64 sums, then float32."""

    def __init__(self, seed, d_in, d_out, n_true):
        g = Mulberry32(seed)
        self.d_in, self.d_out, self.n_true = d_in, d_out, n_true
        self.mu = [(g.next() - 0.5) * 2.0 for _ in range(d_in)]
        self.nu = [(g.next() - 0.5) * 2.0 for _ in range(d_out)]
        self.D = [[g.next() * 2.0 - 1.0 for _ in range(d_in)] for _ in range(n_true)]
        self.E = [[g.next() * 2.0 - 1.0 for _ in range(d_out)] for _ in range(n_true)]
        self.g = g

    def batch(self, n):
        g = self.g
        xs, ys = [], []
        for _ in range(n):
            x, y = list(self.mu), list(self.nu)
            for k in range(self.n_true):
                u = g.next()
                u2 = g.next()
                if u > 0.85:
                    c = 3.0 * u2
                    for j in range(self.d_in):
                        x[j] = x[j] + c * self.D[k][j]
                    for j in range(self.d_out):
                        y[j] = y[j] + c * self.E[k][j]
            for j in range(self.d_in):
                x[j] = x[j] + 0.05 * (g.next() - 0.5)
            for j in range(self.d_out):
                y[j] = y[j] + 0.05 * (g.next() - 0.5)
            xs.append(x)
            ys.append(y)
        f32 = lambda a: torch.tensor(np.array(a, dtype=np.float64).astype(np.float32))  # noqa: E731
        return f32(xs), f32(ys)


def mse_sum(out, y):
    return ((out - y) ** 2).sum(-1).mean()


def forward(arch, cfg, p, x, y, coeff, dead):
    """Training forward of a transcoder: feature acts, output, losses by SAELens metric name, stats."""
    base, skip = ARCHS[arch]
    h = x @ p["W_enc"] + p["b_enc"]  # no b_dec on the input
    skip_out = x @ p["W_skip"].T if skip else 0.0
    losses, stats = {}, {}
    dnorm = p["W_dec"].norm(dim=1)
    if base == "standard":
        f = h.relu()
        out = f @ p["W_dec"] + p["b_dec"] + skip_out
        losses["mse_loss"] = mse_sum(out, y)
        losses["l1_loss"] = (coeff * (f * dnorm).sum(-1)).mean()
    elif base == "jumprelu":
        theta = torch.relu(p["threshold"])
        eps = cfg["jumprelu_bandwidth"]
        f = JumpReLUFn.apply(h, theta, eps)
        out = f @ p["W_dec"] + p["b_dec"] + skip_out
        losses["mse_loss"] = mse_sum(out, y)
        if cfg["jumprelu_sparsity_loss_mode"] == "step":
            losses["l0_loss"] = (coeff * StepFn.apply(h, theta, eps).sum(-1)).mean()
        else:
            losses["l0_loss"] = (coeff * torch.tanh(cfg["jumprelu_tanh_scale"] * f * dnorm).sum(-1)).mean()
        if cfg.get("pre_act_loss_coefficient") is not None:
            if not bool(dead.any()):
                losses["pre_act_loss"] = h.new_tensor(0.0)
            else:
                per = (torch.relu(theta - h) * dead.to(h.dtype) * dnorm).sum(-1)
                losses["pre_act_loss"] = cfg["pre_act_loss_coefficient"] * per.mean()
    else:
        hr = h * dnorm if cfg["rescale_acts_by_decoder_norm"] else h
        f = topk_acts(hr, cfg["k"]) if base == "topk" else batch_topk_acts(hr, cfg["k"])
        fs = f * (1 / dnorm) if cfg["rescale_acts_by_decoder_norm"] else f
        out = fs @ p["W_dec"] + p["b_dec"] + skip_out
        losses["mse_loss"] = mse_sum(out, y)
        nd = int(dead.sum())
        if nd == 0:
            losses["auxiliary_reconstruction_loss"] = out.new_tensor(0.0)
        else:
            residual = (y - out).detach()  # the target's residual
            k_aux = x.shape[-1] // 2  # SAELens: sae_in.shape[-1] // 2
            scale = min(nd / k_aux, 1.0)
            a = aux_acts(hr, dead, min(k_aux, nd))
            if cfg["rescale_acts_by_decoder_norm"]:
                a = a * (1 / dnorm)
            losses["auxiliary_reconstruction_loss"] = cfg["aux_loss_coefficient"] * scale * ((a @ p["W_dec"]) - residual).pow(2).sum(-1).mean()
        if base == "batchtopk":
            pos = f[f > 0]
            stats["min_positive_act"] = float(pos.min().double()) if pos.numel() > 0 else None
    loss = sum(losses.values())
    return f, out, losses, loss, stats


def coeff_name(arch):
    base = ARCHS[arch][0]
    return {"standard": "l1", "jumprelu": "l0"}.get(base)


def random_params(arch, d_in, d_out, d_sae, g):
    base, skip = ARCHS[arch]
    p = {
        "W_enc": torch.randn(d_in, d_sae, generator=g) * 0.4,
        "b_enc": torch.randn(d_sae, generator=g) * 0.2,
        "W_dec": torch.randn(d_sae, d_out, generator=g) * 0.3,
        "b_dec": torch.randn(d_out, generator=g) * 0.1,
    }
    if base == "jumprelu":
        p["threshold"] = torch.rand(d_sae, generator=g) * 0.5 + 0.05
    if skip:
        p["W_skip"] = torch.randn(d_out, d_in, generator=g) * 0.2
    return p


CFGS = {
    "standard": {"l1_coefficient": 0.3, "lp_norm": 1.0},
    "jumprelu": {"jumprelu_bandwidth": 0.2, "jumprelu_sparsity_loss_mode": "step", "jumprelu_tanh_scale": 4.0,
                 "pre_act_loss_coefficient": 0.3, "l0_coefficient": 0.7},
    "topk": {"k": 4, "aux_loss_coefficient": 0.5, "rescale_acts_by_decoder_norm": True},
    "batchtopk": {"k": 3.5, "aux_loss_coefficient": 0.5, "rescale_acts_by_decoder_norm": True, "topk_threshold_lr": 0.01},
}


def forward_case(arch, g, d_in=8, d_out=6, d_sae=24, n=16, dead_idx=(0, 3, 4, 11, 20)):
    base = ARCHS[arch][0]
    cfg = dict(CFGS[base])
    if arch == "jumprelu_skip_transcoder":
        cfg["jumprelu_sparsity_loss_mode"] = "tanh"  # both L0 modes covered
        cfg["l0_coefficient"] = 0.05
    coeff = cfg.get("l1_coefficient", cfg.get("l0_coefficient"))
    p32 = random_params(arch, d_in, d_out, d_sae, g)
    x32 = torch.randn(n, d_in, generator=g) * 1.5
    y32 = torch.randn(n, d_out, generator=g) * 1.2
    p = {k: v.to(torch.float64).clone().requires_grad_(True) for k, v in p32.items()}
    dead = torch.zeros(d_sae, dtype=torch.bool)
    dead[list(dead_idx)] = True
    f, out, losses, loss, _ = forward(arch, cfg, p, x32.double(), y32.double(), coeff, dead)
    loss.backward()
    return {
        "name": arch, "architecture": arch, "cfg": cfg, "coefficient": coeff, "d_in": d_in, "d_out": d_out, "d_sae": d_sae, "n": n,
        "dead_idx": list(dead_idx), "params": {k: f32list(v) for k, v in p32.items()}, "x": f32list(x32), "y": f32list(y32),
        "feature_acts": f.detach().reshape(-1).tolist(), "sae_out": out.detach().reshape(-1).tolist(),
        "losses": {k: float(v) for k, v in losses.items()}, "loss": float(loss),
        "grads": {k: v.grad.reshape(-1).tolist() for k, v in p.items()},
    }


D_IN, D_OUT, D_SAE, N_TRUE = 16, 12, 32, 24
TRAJ_CFGS = {
    "standard": {"l1_coefficient": 0.02, "lp_norm": 1.0, "l1_warm_up_steps": 30},
    "jumprelu": {"jumprelu_bandwidth": 0.05, "jumprelu_sparsity_loss_mode": "tanh", "jumprelu_tanh_scale": 4.0,
                 "pre_act_loss_coefficient": 0.01, "l0_coefficient": 0.02, "l0_warm_up_steps": 30},
    "topk": {"k": 4, "aux_loss_coefficient": 1.0, "rescale_acts_by_decoder_norm": True},
    "batchtopk": {"k": 4.0, "aux_loss_coefficient": 1.0, "rescale_acts_by_decoder_norm": True, "topk_threshold_lr": 0.01},
}


def init_params(arch, seed, n_dead):
    """Transcoder init (our trainer's): kaiming-uniform W_dec [d_sae, d_out] rows to norm 0.1, an
    independent kaiming-uniform W_enc [d_in, d_sae], zero biases, W_skip zeros, threshold 0.01;
    then `n_dead` latents switched off by a large negative encoder bias."""
    base, skip = ARCHS[arch]
    g = torch.Generator().manual_seed(seed)
    W_dec = torch.empty(D_SAE, D_OUT).uniform_(-math.sqrt(6.0 / D_OUT), math.sqrt(6.0 / D_OUT), generator=g)
    W_dec = W_dec / W_dec.norm(dim=-1, keepdim=True) * 0.1
    W_enc = torch.empty(D_IN, D_SAE).uniform_(-math.sqrt(6.0 / D_SAE), math.sqrt(6.0 / D_SAE), generator=g)
    b_enc = torch.zeros(D_SAE)
    b_enc[:n_dead] = -20.0
    p = {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": torch.zeros(D_OUT)}
    if base == "jumprelu":
        p["threshold"] = torch.full((D_SAE,), 0.01)
    if skip:
        p["W_skip"] = torch.zeros(D_OUT, D_IN)
    return p


def trajectory(arch, steps=150, batch=64, lr=3e-3, dead_window=8, seed=7, data_seed=11, n_dead=4,
               checkpoints=(1, 10, 25, 50, 100, 150), perturb=None):
    base = ARCHS[arch][0]
    cfg = TRAJ_CFGS[base]
    start = init_params(arch, seed, n_dead)
    p = {k: v.clone().requires_grad_(True) for k, v in start.items()}
    if perturb is not None:
        with torch.no_grad():
            p["W_enc"].mul_(1 + perturb * torch.randn(p["W_enc"].shape, generator=torch.Generator().manual_seed(99)))
    names = list(p.keys())
    opt = torch.optim.Adam([p[k] for k in names], lr=lr, betas=(0.9, 0.999), eps=1e-8)
    data = SyntheticPairs(data_seed, D_IN, D_OUT, N_TRUE)
    since_fired = torch.zeros(D_SAE)
    threshold = torch.tensor(0.0, dtype=torch.double)
    value = cfg.get("l1_coefficient", cfg.get("l0_coefficient"))
    warm = cfg.get("l1_warm_up_steps", cfg.get("l0_warm_up_steps", 0))
    rec = {"losses": [], "l0": [], "n_dead": [], "params": {}, "topk_threshold": []}
    for k in range(steps):
        x, y = data.batch(batch)
        dead = since_fired > dead_window
        coeff = None if value is None else (value * min(k, warm) / warm if warm > 0 else value)
        f, out, losses, loss, stats = forward(arch, cfg, p, x, y, coeff, dead)
        opt.zero_grad()
        loss.backward()
        with torch.no_grad():
            fired = (f > 0).any(0)
            since_fired += 1
            since_fired[fired] = 0
        torch.nn.utils.clip_grad_norm_([p[n] for n in names], 1.0)
        opt.step()
        if stats.get("min_positive_act") is not None:
            tlr = cfg["topk_threshold_lr"]
            threshold = (1 - tlr) * threshold + tlr * torch.tensor(stats["min_positive_act"], dtype=torch.double)
        rec["losses"].append({n: float(v) for n, v in losses.items()})
        rec["l0"].append(float((f > 0).float().sum(-1).mean()))
        rec["n_dead"].append(int(dead.sum()))
        rec["topk_threshold"].append(float(threshold))
        if (k + 1) in checkpoints:
            rec["params"][str(k + 1)] = {n: f32list(p[n]) for n in names}
    return cfg, start, rec


def main():
    g = torch.Generator().manual_seed(2025)
    cases = [forward_case(a, g) for a in ARCHS]
    for c in cases:
        print(f"{c['name']}: loss {c['loss']:.6f} terms {c['losses']}")
    trajectories = {}
    for arch in ARCHS:
        cfg, start, rec = trajectory(arch)
        _, _, pert = trajectory(arch, perturb=1e-7)
        divergence = {s: max(max_rel(pert["params"][s][n], rec["params"][s][n]) for n in rec["params"][s]) for s in rec["params"]}
        trajectories[arch] = {
            "architecture": arch, "cfg": cfg, "steps": 150, "d_in": D_IN, "d_out": D_OUT, "d_sae": D_SAE, "n_true": N_TRUE,
            "batch": 64, "lr": 3e-3, "adam_beta1": 0.9, "adam_beta2": 0.999, "dead_feature_window": 8, "data_seed": 11,
            "init": {n: f32list(v) for n, v in start.items()}, **rec, "divergence": divergence,
        }
        print(f"{arch}: final {rec['losses'][-1]}, l0 {rec['l0'][-1]:.2f}, dead {rec['n_dead'][-1]}, divergence {divergence}")
    path = os.path.join(OUT, "transcoders.json")
    with open(path, "w") as f:
        json.dump({"cases": cases, "trajectories": trajectories}, f, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
