#!/usr/bin/env python3
"""
Plain-PyTorch reference for sae-rx's `jumprelu` and `gated` architectures
(src/sae/architectures/jumprelu.ts, gated.ts). Our own code, written from SAELens 6's formulas
(sae_lens/saes/jumprelu_sae.py as of 6.48+: the threshold is the parameter, used as
relu(threshold); sae_lens/saes/gated_sae.py at v6.18.0: decoder-norm-weighted gate L1, auxiliary
reconstruction with W_dec and b_dec not detached) and SAELens 6's trainer step
(training/sae_trainer.py: dead mask taken before the forward pass, loss.backward,
clip_grad_norm_(1.0), Adam, coefficient warm-up `value * min(k, W) / W` at step k).

    /usr/bin/python3 scripts/reference/jumprelu_gated_reference.py

Writes test/fixtures/sae/jumprelu_gated.json:
- `cases`: forward outputs, every loss term and every parameter gradient (float64 from float32
  inputs) for jumprelu step / tanh / pre-act loss on dead latents / a negative threshold, and
  gated; compared by test/sae/jumpreluGated.test.ts to 1e-5.
- `trajectories`: 150 Adam steps (float32, like sae-rx) for jumprelu-step with pre-act loss,
  jumprelu-tanh and gated, on SyntheticActs batches (sae_reference.py, reproduced in TS), with
  l0/l1 warm-up and latents dead from the start; losses per step and parameters at checkpoints.
  `divergence` is how far the same run drifts when W_enc is perturbed by 1e-7 relative: the
  horizon over which float32 can be compared.
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sae_reference import SyntheticActs, f32list  # noqa: E402

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "test", "fixtures", "sae"))


def rectangle(u):
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class JumpReLUFn(torch.autograd.Function):
    """f = x·1[x > θ]; ∂x = 1[x > θ]·g; ∂θ = Σ_batch −(θ/ε)·rect((x − θ)/ε)·g."""

    @staticmethod
    def forward(ctx, x, theta, eps):
        ctx.save_for_backward(x, theta)
        ctx.eps = eps
        return x * (x > theta).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, theta = ctx.saved_tensors
        eps = ctx.eps
        gx = (x > theta).to(x.dtype) * g
        gt = torch.sum(-(theta / eps) * rectangle((x - theta) / eps) * g, dim=0)
        return gx, gt, None


class StepFn(torch.autograd.Function):
    """1[x > θ]; no gradient to x; ∂θ = Σ_batch −(1/ε)·rect((x − θ)/ε)·g."""

    @staticmethod
    def forward(ctx, x, theta, eps):
        ctx.save_for_backward(x, theta)
        ctx.eps = eps
        return (x > theta).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, theta = ctx.saved_tensors
        eps = ctx.eps
        gt = torch.sum(-(1.0 / eps) * rectangle((x - theta) / eps) * g, dim=0)
        return None, gt, None


def jumprelu_losses(p, x, cfg, coeff, dead):
    """SAELens 6 JumpReLUTrainingSAE.training_forward_pass: mse_loss, l0_loss, pre_act_loss."""
    sae_in = x - p["b_dec"] * (1.0 if cfg.get("apply_b_dec_to_input", True) else 0.0)
    h = sae_in @ p["W_enc"] + p["b_enc"]
    theta = torch.relu(p["threshold"])
    eps = cfg["jumprelu_bandwidth"]
    f = JumpReLUFn.apply(h, theta, eps)
    out = f @ p["W_dec"] + p["b_dec"]
    mse = ((out - x) ** 2).sum(-1).mean()
    dnorm = p["W_dec"].norm(dim=1)
    if cfg["jumprelu_sparsity_loss_mode"] == "step":
        l0 = (coeff * StepFn.apply(h, theta, eps).sum(-1)).mean()
    else:
        l0 = (coeff * torch.tanh(cfg["jumprelu_tanh_scale"] * f * dnorm).sum(-1)).mean()
    losses = {"mse_loss": mse, "l0_loss": l0}
    if cfg.get("pre_act_loss_coefficient") is not None:
        if dead is None or not bool(dead.any()):
            losses["pre_act_loss"] = h.new_tensor(0.0)
        else:
            per = (torch.relu(theta - h) * dead.to(h.dtype) * dnorm).sum(-1)
            losses["pre_act_loss"] = cfg["pre_act_loss_coefficient"] * per.mean()
    return f, out, losses


def gated_losses(p, x, cfg, coeff, dead):
    """SAELens 6.18 GatedTrainingSAE: mse_loss, l1_loss, auxiliary_reconstruction_loss."""
    del dead
    sae_in = x - p["b_dec"] * (1.0 if cfg.get("apply_b_dec_to_input", True) else 0.0)
    pi_gate = sae_in @ p["W_enc"] + p["b_gate"]
    active = (pi_gate > 0).to(x.dtype)
    mag = torch.relu(sae_in @ (p["W_enc"] * torch.exp(p["r_mag"])) + p["b_mag"])
    f = active * mag
    out = f @ p["W_dec"] + p["b_dec"]
    mse = ((out - x) ** 2).sum(-1).mean()
    gate_act = torch.relu(pi_gate)
    l1 = coeff * (gate_act * p["W_dec"].norm(dim=1)).sum(-1).mean()
    aux = ((gate_act @ p["W_dec"] + p["b_dec"] - x) ** 2).sum(-1).mean()
    return f, out, {"mse_loss": mse, "l1_loss": l1, "auxiliary_reconstruction_loss": aux}


LOSSES = {"jumprelu": jumprelu_losses, "gated": gated_losses}


def params(arch, d_in, d_sae, g, thresh=None):
    p = {
        "W_enc": torch.randn(d_in, d_sae, generator=g) * 0.4,
        "W_dec": torch.randn(d_sae, d_in, generator=g) * 0.3,
        "b_dec": torch.randn(d_in, generator=g) * 0.1,
    }
    if arch == "jumprelu":
        p["b_enc"] = torch.randn(d_sae, generator=g) * 0.2
        p["threshold"] = thresh if thresh is not None else torch.rand(d_sae, generator=g) * 0.5 + 0.05
    else:
        p["b_gate"] = torch.randn(d_sae, generator=g) * 0.2
        p["b_mag"] = torch.randn(d_sae, generator=g) * 0.2
        p["r_mag"] = torch.randn(d_sae, generator=g) * 0.3
    return p


def forward_case(name, arch, cfg, coeff, g, d_in=8, d_sae=24, n=16, thresh=None, dead_idx=None, scale_x=1.5):
    p32 = params(arch, d_in, d_sae, g, thresh)
    x32 = torch.randn(n, d_in, generator=g) * scale_x
    p = {k: v.to(torch.float64).clone().requires_grad_(True) for k, v in p32.items()}
    x = x32.to(torch.float64)
    dead = None
    if dead_idx is not None:
        dead = torch.zeros(d_sae, dtype=torch.bool)
        dead[dead_idx] = True
    f, out, losses = LOSSES[arch](p, x, cfg, coeff, dead)
    loss = sum(losses.values())
    loss.backward()
    # how many (row, latent) pairs fall inside the STE window (so the threshold gradient is exercised)
    extra = {}
    if arch == "jumprelu":
        with torch.no_grad():
            h = (x - p["b_dec"]) @ p["W_enc"] + p["b_enc"]
            u = (h - torch.relu(p["threshold"])) / cfg["jumprelu_bandwidth"]
            extra["in_window"] = int(((u > -0.5) & (u < 0.5)).sum())
    return {
        "name": name, "architecture": arch, "cfg": cfg, "coefficient": coeff, "d_in": d_in, "d_sae": d_sae, "n": n,
        "dead_idx": list(dead_idx or []),
        "params": {k: f32list(v) for k, v in p32.items()},
        "x": f32list(x32),
        "feature_acts": f.detach().reshape(-1).tolist(),
        "sae_out": out.detach().reshape(-1).tolist(),
        "losses": {k: float(v) for k, v in losses.items()},
        "loss": float(loss),
        "grads": {k: v.grad.reshape(-1).tolist() for k, v in p.items()},
        **extra,
    }


def init_params(arch, d_in, d_sae, seed, n_dead):
    """SAELens 6 init (kaiming-uniform W_dec, rows to norm 0.1, W_enc = W_decᵀ, zero biases,
    threshold 0.01), then `n_dead` latents switched off by a large negative encoder bias."""
    g = torch.Generator().manual_seed(seed)
    W_dec = torch.empty(d_sae, d_in)
    bound = math.sqrt(6.0 / d_in)  # kaiming_uniform_ with a=0 on [d_sae, d_in]: fan_in = d_in
    W_dec.uniform_(-bound, bound, generator=g)
    W_dec = W_dec / W_dec.norm(dim=-1, keepdim=True) * 0.1
    p = {"W_enc": W_dec.T.clone().contiguous(), "W_dec": W_dec, "b_dec": torch.zeros(d_in)}
    off = torch.zeros(d_sae)
    off[:n_dead] = -5.0
    if arch == "jumprelu":
        p["b_enc"] = off
        p["threshold"] = torch.full((d_sae,), 0.01)
    else:
        p["b_gate"] = off.clone()
        p["b_mag"] = torch.zeros(d_sae)
        p["r_mag"] = torch.zeros(d_sae)
    return p


def trajectory(arch, cfg, coeff_name, coeff_value, warm_up, steps=150, d_sae=32, batch=64, lr=3e-3,
               betas=(0.9, 0.999), dead_window=8, seed=7, data_seed=11, n_dead=4, checkpoints=(1, 10, 25, 50, 100, 150),
               perturb=None):
    start = init_params(arch, 16, d_sae, seed, n_dead)
    p = {k: v.clone().requires_grad_(True) for k, v in start.items()}
    if perturb is not None:
        with torch.no_grad():
            p["W_enc"].mul_(1 + perturb * torch.randn(p["W_enc"].shape, generator=torch.Generator().manual_seed(99)))
    names = list(p.keys())
    opt = torch.optim.Adam([p[k] for k in names], lr=lr, betas=betas, eps=1e-8)
    data = SyntheticActs(data_seed)
    since_fired = torch.zeros(d_sae)
    rec = {"losses": [], "l0": [], "n_dead": [], "params": {}}
    for k in range(steps):
        x = data.batch(batch)
        dead = since_fired > dead_window
        coeff = coeff_value * min(k, warm_up) / warm_up if warm_up > 0 else coeff_value
        f, out, losses = LOSSES[arch](p, x, cfg, coeff, dead)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        with torch.no_grad():
            fired = (f > 0).any(0)
            since_fired += 1
            since_fired[fired] = 0
        torch.nn.utils.clip_grad_norm_([p[n] for n in names], 1.0)
        opt.step()
        rec["losses"].append({n: float(v) for n, v in losses.items()})
        rec["l0"].append(float((f > 0).float().sum(-1).mean()))
        rec["n_dead"].append(int(dead.sum()))
        if (k + 1) in checkpoints:
            rec["params"][str(k + 1)] = {n: f32list(p[n]) for n in names}
    return start, rec


def max_rel(a, b):
    a, b = np.array(a), np.array(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def main():
    g = torch.Generator().manual_seed(2024)
    step_cfg = {"jumprelu_bandwidth": 0.2, "jumprelu_sparsity_loss_mode": "step", "jumprelu_tanh_scale": 4.0}
    tanh_cfg = {"jumprelu_bandwidth": 0.05, "jumprelu_sparsity_loss_mode": "tanh", "jumprelu_tanh_scale": 4.0}
    neg = torch.rand(24, generator=g) * 0.5 + 0.05
    neg[[1, 5, 9]] = torch.tensor([-0.2, -0.01, -1.0])
    cases = [
        forward_case("jumprelu_step", "jumprelu", step_cfg, 0.7, g),
        forward_case("jumprelu_step_pre_act", "jumprelu", {**step_cfg, "pre_act_loss_coefficient": 0.3}, 0.7, g,
                     dead_idx=[0, 3, 4, 11, 20]),
        forward_case("jumprelu_tanh_pre_act", "jumprelu", {**tanh_cfg, "pre_act_loss_coefficient": 0.3}, 0.05, g,
                     dead_idx=[2, 7]),
        forward_case("jumprelu_pre_act_none_dead", "jumprelu", {**tanh_cfg, "pre_act_loss_coefficient": 0.3}, 0.05, g,
                     dead_idx=[]),
        forward_case("jumprelu_negative_threshold", "jumprelu", step_cfg, 0.2, g, thresh=neg),
        forward_case("jumprelu_no_b_dec_in", "jumprelu", {**step_cfg, "apply_b_dec_to_input": False}, 0.7, g),
        forward_case("gated", "gated", {}, 0.4, g),
        forward_case("gated_no_b_dec_in", "gated", {"apply_b_dec_to_input": False}, 0.4, g),
    ]
    for c in cases:
        if c["architecture"] == "jumprelu":
            assert c["in_window"] > 0, c["name"]
        print(f"{c['name']}: loss {c['loss']:.6f} {c.get('in_window', '')}")

    runs = {
        "jumprelu_step": ("jumprelu", {"jumprelu_bandwidth": 0.05, "jumprelu_sparsity_loss_mode": "step",
                                       "jumprelu_tanh_scale": 4.0, "pre_act_loss_coefficient": 0.01}, "l0", 0.05, 30),
        "jumprelu_tanh": ("jumprelu", {"jumprelu_bandwidth": 0.05, "jumprelu_sparsity_loss_mode": "tanh",
                                       "jumprelu_tanh_scale": 4.0}, "l0", 0.02, 30),
        "gated": ("gated", {}, "l1", 0.02, 30),
    }
    trajectories = {}
    for name, (arch, cfg, cname, cval, wu) in runs.items():
        start, rec = trajectory(arch, cfg, cname, cval, wu)
        _, pert = trajectory(arch, cfg, cname, cval, wu, perturb=1e-7)
        divergence = {
            s: max(max_rel(pert["params"][s][n], rec["params"][s][n]) for n in rec["params"][s]) for s in rec["params"]
        }
        trajectories[name] = {
            "architecture": arch, "cfg": cfg, "coefficient": {"name": cname, "value": cval, "warm_up_steps": wu},
            "steps": 150, "d_in": 16, "d_sae": 32, "batch": 64, "lr": 3e-3, "adam_beta1": 0.9, "adam_beta2": 0.999,
            "dead_feature_window": 8, "data_seed": 11, "clip_grad_norm": 1.0,
            "init": {n: f32list(v) for n, v in start.items()},
            **rec, "divergence": divergence,
        }
        print(f"{name}: final loss terms {rec['losses'][-1]}, l0 {rec['l0'][-1]:.2f}, dead {rec['n_dead'][-1]}, "
              f"divergence {divergence}")
    path = os.path.join(OUT, "jumprelu_gated.json")
    with open(path, "w") as f:
        json.dump({"cases": cases, "trajectories": trajectories}, f, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
