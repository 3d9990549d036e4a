#!/usr/bin/env python3
"""
PyTorch reference for sae-rx's SAE core (src/sae, src/train): golden fixtures under
test/fixtures/sae/. Our own code, written from SAELens v1.5.0's formulas and step order
(sae_lens/training/sparse_autoencoder.py, train_sae_on_language_model.py, optim.py,
geometric_median.py); PyTorch's own Adam, clip_grad_norm_ and LR schedulers are used so the
fixtures carry torch's exact semantics.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/reference/sae_reference.py
Everything is seeded; rerunning rewrites identical files.
"""
import json
import math
import os
import sys

import numpy as np
import torch
from torch.optim import lr_scheduler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_io import write_safetensors  # noqa: E402

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "test", "fixtures", "sae"))

D_IN, D_SAE, BATCH = 16, 64, 32


# ---------------------------------------------------------------------------------------------
# JSON helpers: float32 values written with the shortest decimal that round-trips float32.


def f32list(t):
    a = t.detach().cpu().to(torch.float32).numpy().reshape(-1)
    return [float(repr(np.float32(v))) for v in a]


def dump(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# ---------------------------------------------------------------------------------------------
# A tiny integer PRNG reproduced bit-for-bit in TypeScript (test/train/syntheticData.ts), so the
# 200-step trajectory needs no stored batches.

M32 = 0xFFFFFFFF


def imul(a, b):
    return (a * b) & M32


class Mulberry32:
    def __init__(self, seed):
        self.a = seed & M32

    def next(self):
        self.a = (self.a + 0x6D2B79F5) & M32
        t = self.a
        t = imul(t ^ (t >> 15), t | 1)
        t = ((t + imul(t ^ (t >> 7), t | 61)) & M32) ^ t
        return ((t ^ (t >> 14)) & M32) / 4294967296.0


class SyntheticActs:
    """x = mu + Σ_k c_k D_k + noise, c_k = 3·u' with probability 0.15; float64 then float32."""

    def __init__(self, seed, d_in=D_IN, n_true=24):
        g = Mulberry32(seed)
        self.d_in, self.n_true = d_in, n_true
        self.mu = [(g.next() - 0.5) * 2.0 for _ in range(d_in)]
        self.D = [[g.next() * 2.0 - 1.0 for _ in range(d_in)] for _ in range(n_true)]
        self.g = g

    def batch(self, n):
        g = self.g
        rows = []
        for _ in range(n):
            row = list(self.mu)
            for k in range(self.n_true):
                u = g.next()
                u2 = g.next()
                if u > 0.85:
                    c = 3.0 * u2
                    dk = self.D[k]
                    for j in range(self.d_in):
                        row[j] = row[j] + c * dk[j]
            for j in range(self.d_in):
                row[j] = row[j] + 0.05 * (g.next() - 0.5)
            rows.append(row)
        return torch.tensor(np.array(rows, dtype=np.float64).astype(np.float32))


# ---------------------------------------------------------------------------------------------
# The SAE maths (SAELens v1.5.0 SparseAutoencoder.forward / calculate_ghost_grad_loss).


def activation(name, h):
    if name == "relu":
        return torch.relu(h)
    if name == "tanh-relu":
        return torch.tanh(torch.relu(h))
    raise ValueError(name)


def per_item_mse(preds, target, normalization):
    if normalization == "dense_batch":
        centred = target - target.mean(dim=0, keepdim=True)
        norm = centred.norm(dim=-1, keepdim=True)
        return torch.nn.functional.mse_loss(preds, target, reduction="none") / (norm + 1e-6)
    return torch.nn.functional.mse_loss(preds, target, reduction="none")


def sae_forward(p, x, cfg, l1c, dead_mask=None, training=True):
    sae_in = x - p["b_dec"] * cfg["apply_b_dec_to_input"]
    hidden_pre = sae_in @ p["W_enc"] + p["b_enc"]
    feature_acts = activation(cfg["activation_fn"], hidden_pre)
    sae_out = (feature_acts * p["scaling_factor"]) @ p["W_dec"] + p["b_dec"]
    per_item = per_item_mse(sae_out, x, cfg["mse_loss_normalization"])
    ghost = torch.tensor(0.0)
    if cfg["use_ghost_grads"] and training and dead_mask is not None and dead_mask.sum() > 0:
        residual = x - sae_out
        l2_resid = torch.norm(residual, dim=-1)
        dead_acts = torch.exp(hidden_pre[:, dead_mask])
        ghost_out = dead_acts @ p["W_dec"][dead_mask, :]
        l2_ghost = torch.norm(ghost_out, dim=-1)
        scale = l2_resid / (1e-6 + l2_ghost * 2)
        ghost_out = ghost_out * scale[:, None].detach()
        ghost_mse = per_item_mse(ghost_out, residual.detach(), cfg["mse_loss_normalization"])
        rescale = (per_item / (ghost_mse + 1e-6)).detach()
        ghost = (rescale * ghost_mse).mean()
    mse = per_item.sum(dim=-1).mean()
    if cfg["scale_sparsity_penalty_by_decoder_norm"]:
        sparsity = (feature_acts * p["W_dec"].norm(dim=1)).norm(p=cfg["lp_norm"], dim=-1)
    else:
        sparsity = feature_acts.norm(p=cfg["lp_norm"], dim=-1)
    l1 = (l1c * sparsity).mean()
    loss = mse + l1 + ghost
    return dict(sae_in=sae_in, hidden_pre=hidden_pre, feature_acts=feature_acts, sae_out=sae_out,
                mse=mse, l1=l1, ghost=ghost, loss=loss)


BASE_CFG = dict(
    activation_fn="relu", apply_b_dec_to_input=True, mse_loss_normalization=None, lp_norm=1,
    scale_sparsity_penalty_by_decoder_norm=False, use_ghost_grads=False, normalize_sae_decoder=True,
)

PARAM_ORDER = ["b_enc", "W_dec", "W_enc", "b_dec", "scaling_factor"]  # SAELens registration order


def init_params(seed, d_in=D_IN, d_sae=D_SAE, unit_dec=True):
    g = torch.Generator().manual_seed(seed)
    W_dec = (torch.rand(d_sae, d_in, generator=g) * 2 - 1) * math.sqrt(6 / d_in)
    if unit_dec:
        W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)
    W_enc = (torch.rand(d_in, d_sae, generator=g) * 2 - 1) * math.sqrt(6 / d_sae)
    b_enc = (torch.rand(d_sae, generator=g) - 0.5) * 0.2
    b_dec = (torch.rand(d_in, generator=g) - 0.5) * 0.5
    return dict(W_enc=W_enc, b_enc=b_enc, W_dec=W_dec, b_dec=b_dec, scaling_factor=torch.ones(d_sae))


def params_json(p):
    return {k: f32list(v) for k, v in p.items()}


def leaf(p, trainable):
    return {k: v.clone().detach().requires_grad_(k in trainable) for k, v in p.items()}


# ---------------------------------------------------------------------------------------------
# 1. forward outputs, every loss term and gradients, per option


def forward_cases():
    x = SyntheticActs(7).batch(BATCH)
    base = init_params(1)
    dead = torch.zeros(D_SAE, dtype=torch.bool)
    dead[[1, 5, 9, 20, 33, 47, 60]] = True
    nonunit = dict(base)
    nonunit["W_dec"] = base["W_dec"] * (0.5 + torch.rand(D_SAE, 1, generator=torch.Generator().manual_seed(3)))
    scaled = dict(base)
    scaled["scaling_factor"] = 0.5 + torch.rand(D_SAE, generator=torch.Generator().manual_seed(4))
    cases = [
        ("relu", {}, base, None, 0.01),
        ("tanh_relu", {"activation_fn": "tanh-relu"}, base, None, 0.01),
        ("no_b_dec_to_input", {"apply_b_dec_to_input": False}, base, None, 0.01),
        ("dense_batch", {"mse_loss_normalization": "dense_batch"}, base, None, 0.01),
        ("lp_norm_2", {"lp_norm": 2}, base, None, 0.05),
        ("decoder_norm_scaled", {"scale_sparsity_penalty_by_decoder_norm": True}, nonunit, None, 0.02),
        ("ghost", {"use_ghost_grads": True}, base, dead, 0.01),
        ("ghost_dense_batch", {"use_ghost_grads": True, "mse_loss_normalization": "dense_batch"}, base, dead, 0.01),
        ("ghost_tanh_relu_lp2", {"use_ghost_grads": True, "activation_fn": "tanh-relu", "lp_norm": 2}, base, dead, 0.01),
        ("ghost_no_dead", {"use_ghost_grads": True}, base, torch.zeros(D_SAE, dtype=torch.bool), 0.01),
        ("scaling_factor", {}, scaled, None, 0.01),
    ]
    out = {"d_in": D_IN, "d_sae": D_SAE, "batch": BATCH, "x": f32list(x), "params": {}, "cases": []}
    named = {"base": base, "nonunit": nonunit, "scaled": scaled}
    for k, v in named.items():
        out["params"][k] = params_json(v)
    for name, over, p0, dmask, l1c in cases:
        cfg = {**BASE_CFG, **over}
        p = leaf(p0, PARAM_ORDER)
        r = sae_forward(p, x, cfg, l1c, dmask)
        r["loss"].backward()
        out["cases"].append({
            "name": name,
            "cfg": cfg,
            "l1_coefficient": l1c,
            "dead": [] if dmask is None else [int(i) for i in torch.nonzero(dmask).reshape(-1)],
            "params": next(k for k, v in named.items() if v is p0),
            "expected": {
                **{k: f32list(r[k]) for k in ["sae_in", "hidden_pre", "feature_acts", "sae_out"]},
                **{k: float(r[k]) for k in ["mse", "l1", "ghost", "loss"]},
                "grads": {k: f32list(p[k].grad) for k in PARAM_ORDER},
            },
        })
    dump("forward_cases.json", out)


# ---------------------------------------------------------------------------------------------
# 2. LR schedules (torch's own schedulers, built as SAELens's get_lr_scheduler) and L1 warm-up


def build_lr_scheduler(opt, name, training_steps, lr, warm_up_steps, decay_steps, lr_end, num_cycles):
    base_steps = training_steps - warm_up_steps - decay_steps
    if name == "constant":
        main = lr_scheduler.LambdaLR(opt, lr_lambda=lambda s: 1.0)
    elif name == "cosineannealing":
        main = lr_scheduler.CosineAnnealingLR(opt, T_max=base_steps, eta_min=lr_end)
    elif name == "cosineannealingwarmrestarts":
        main = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=base_steps // num_cycles, eta_min=lr_end)
    else:
        raise ValueError(name)
    if name == "constant":
        lr_end = lr
    scheds, milestones = [], []
    if warm_up_steps > 0:
        scheds.append(lr_scheduler.LinearLR(opt, start_factor=1 / warm_up_steps, end_factor=1.0,
                                            total_iters=warm_up_steps - 1))
        milestones.append(warm_up_steps)
    scheds.append(main)
    if decay_steps > 0:
        scheds.append(lr_scheduler.LinearLR(opt, start_factor=lr_end / lr, end_factor=0.0, total_iters=decay_steps))
        milestones.append(training_steps - decay_steps)
    return lr_scheduler.SequentialLR(opt, schedulers=scheds, milestones=milestones)


class L1Sched:
    def __init__(self, warm, final):
        self.warm, self.final, self.cur, self.step_n = warm, final, final, 0
        if warm != 0:
            self.cur = 0.0

    def step(self):
        s = self.step_n
        self.cur = self.final * ((1 + s) / self.warm) if s < self.warm else self.final
        self.step_n += 1


def schedules():
    cases = [
        dict(name="constant", total=50, lr=3e-4, warm=0, decay=0, lr_end=None, cycles=1),
        dict(name="constant", total=60, lr=3e-4, warm=10, decay=0, lr_end=None, cycles=1),
        dict(name="constant", total=60, lr=1e-3, warm=10, decay=15, lr_end=None, cycles=1),
        dict(name="constant", total=30, lr=1e-3, warm=1, decay=0, lr_end=None, cycles=1),
        dict(name="cosineannealing", total=100, lr=3e-4, warm=10, decay=0, lr_end=None, cycles=1),
        dict(name="cosineannealing", total=100, lr=1e-3, warm=10, decay=20, lr_end=1e-5, cycles=1),
        dict(name="cosineannealing", total=80, lr=1e-3, warm=0, decay=0, lr_end=0.0, cycles=1),
        dict(name="cosineannealingwarmrestarts", total=100, lr=1e-3, warm=5, decay=10, lr_end=None, cycles=3),
        dict(name="cosineannealingwarmrestarts", total=64, lr=2e-3, warm=0, decay=0, lr_end=1e-4, cycles=1),
    ]
    out = {"lr": [], "l1": []}
    for c in cases:
        lr_end = c["lr"] / 10 if c["lr_end"] is None else c["lr_end"]
        w = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.Adam([w], lr=c["lr"])
        sch = build_lr_scheduler(opt, c["name"], c["total"], c["lr"], c["warm"], c["decay"], lr_end, c["cycles"])
        lrs = []
        for _ in range(c["total"]):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sch.step()
        out["lr"].append({**c, "lrs": lrs})
    for final, warm, n in [(1e-3, 0, 10), (5.0, 10, 25), (0.02, 1, 5), (3.0, 7, 12)]:
        s = L1Sched(warm, final)
        vals = []
        for _ in range(n):
            vals.append(s.cur)
            s.step()
        out["l1"].append({"l1_coefficient": final, "l1_warm_up_steps": warm, "values": vals})
    dump("schedules.json", out)


# ---------------------------------------------------------------------------------------------
# 3. geometric median (Weiszfeld as SAELens compute_geometric_median)


def geometric_median(points, maxiter=100, eps=1e-6, ftol=1e-20):
    weights = torch.ones(points.shape[0])

    def wavg(w):
        w = w / w.sum()
        return (points * w.view(-1, 1)).sum(dim=0)

    def objective(m):
        return (torch.linalg.norm(points - m.view(1, -1), dim=1) * weights).sum()

    median = wavg(weights)
    obj = objective(median)
    iters = 0
    for _ in range(maxiter):
        prev = obj
        norms = torch.linalg.norm(points - median.view(1, -1), dim=1)
        median = wavg(weights / torch.clamp(norms, min=eps))
        obj = objective(median)
        iters += 1
        if abs(prev - obj) <= ftol * obj:
            break
    return median, iters


def geometric_median_fixture():
    g = torch.Generator().manual_seed(11)
    pts = torch.randn(300, D_IN, generator=g) + 2.0
    pts[:20] += 40.0  # outliers pull the mean, not the median
    med, iters = geometric_median(pts)
    dump("geometric_median.json", {"points": f32list(pts), "n": 300, "d": D_IN, "median": f32list(med),
                                   "iterations": iters, "mean": f32list(pts.mean(0))})


# ---------------------------------------------------------------------------------------------
# 4. training: SAELens _train_step with torch Adam / clip_grad_norm_ / SequentialLR


FINETUNING_PARAMETERS = {
    "scale": ["scaling_factor"],
    "decoder": ["scaling_factor", "W_dec", "b_dec"],
    "unrotated_decoder": ["scaling_factor", "b_dec"],
}


class RefTrainer:
    def __init__(self, p0, cfg, tcfg):
        self.cfg, self.t = cfg, tcfg
        self.p = {k: torch.nn.Parameter(v.clone()) for k, v in p0.items()}
        self.p["scaling_factor"].requires_grad_(False)
        self.opt = torch.optim.Adam([self.p[k] for k in PARAM_ORDER], lr=tcfg["lr"],
                                    betas=(tcfg["adam_beta1"], tcfg["adam_beta2"]))
        total = tcfg["total_training_steps"] + tcfg["finetuning_steps"]
        lr_end = tcfg["lr"] / 10 if tcfg["lr_end"] is None else tcfg["lr_end"]
        self.sched = build_lr_scheduler(self.opt, tcfg["lr_scheduler_name"], total, tcfg["lr"],
                                        tcfg["lr_warm_up_steps"], tcfg["lr_decay_steps"], lr_end,
                                        tcfg["n_restart_cycles"])
        self.l1 = L1Sched(tcfg["l1_warm_up_steps"], tcfg["l1_coefficient"])
        self.since_fired = torch.zeros(D_SAE)
        self.act_freq = torch.zeros(D_SAE)
        self.n_frac = 0
        self.n_steps = 0
        self.n_tokens = 0
        self.finetuning = False

    def step(self, x):
        cfg, t, p = self.cfg, self.t, self.p
        k = self.n_steps
        if cfg["normalize_sae_decoder"]:
            with torch.no_grad():
                p["W_dec"].data /= torch.norm(p["W_dec"].data, dim=1, keepdim=True)
        if (k + 1) % t["feature_sampling_window"] == 0:
            self.act_freq = torch.zeros(D_SAE)
            self.n_frac = 0
        dead = self.since_fired > t["dead_feature_window"]
        lr = self.opt.param_groups[0]["lr"]
        l1c = self.l1.cur
        r = sae_forward(p, x, cfg, l1c, dead)
        fa = r["feature_acts"]
        did_fire = (fa > 0).float().sum(-2) > 0
        self.since_fired += 1
        self.since_fired[did_fire] = 0
        with torch.no_grad():
            self.act_freq += (fa.abs() > 0).float().sum(0)
            self.n_frac += x.shape[0]
        # torch >= 2.0 default (SAELens's era): frozen parameters get grad None, so neither the
        # clipping nor Adam touches them.
        self.opt.zero_grad(set_to_none=True)
        r["loss"].backward()
        torch.nn.utils.clip_grad_norm_([p[k2] for k2 in PARAM_ORDER], 1.0)
        if cfg["normalize_sae_decoder"] and p["W_dec"].grad is not None:
            with torch.no_grad():
                par = (p["W_dec"].grad * p["W_dec"].data).sum(-1)
                p["W_dec"].grad -= par[:, None] * p["W_dec"].data
        self.opt.step()
        self.sched.step()
        self.l1.step()
        with torch.no_grad():
            l0 = (fa > 0).float().sum(-1).mean()
            per_tok = (r["sae_out"] - x).pow(2).sum(-1)
            tot_var = (x - x.mean(0)).pow(2).sum(-1)
            ev = 1 - per_tok / tot_var
        metrics = dict(step=k, mse=float(r["mse"]), l1=float(r["l1"]), ghost=float(r["ghost"]),
                       total=float(r["loss"]), l0=float(l0), ev_mean=float(ev.mean()), ev_std=float(ev.std()),
                       dead=int(dead.sum()), lr=lr, l1_coefficient=l1c,
                       phase="finetune" if self.finetuning else "train")
        self.n_steps += 1
        self.n_tokens += x.shape[0]
        if (not self.finetuning) and t["finetuning_method"] is not None and \
                self.n_tokens > t["total_training_steps"] * x.shape[0]:
            self.finetuning = True
            for name, prm in p.items():
                prm.requires_grad_(name in FINETUNING_PARAMETERS[t["finetuning_method"]])
        return metrics

    def adam_state(self):
        out = {}
        for name in PARAM_ORDER:
            st = self.opt.state.get(self.p[name])
            if st:
                out[name] = {"step": int(st["step"]), "m": f32list(st["exp_avg"]), "v": f32list(st["exp_avg_sq"])}
        return out


BASE_TCFG = dict(lr=3e-4, lr_scheduler_name="constant", lr_warm_up_steps=0, lr_end=None, lr_decay_steps=0,
                 n_restart_cycles=1, adam_beta1=0.0, adam_beta2=0.999, l1_coefficient=1e-3, l1_warm_up_steps=0,
                 train_batch_size=BATCH, total_training_steps=100, feature_sampling_window=2000,
                 dead_feature_window=1000, dead_feature_threshold=1e-8, use_ghost_grads=False,
                 finetuning_method=None, finetuning_steps=0)


def run_trajectory(name, p0, cfg, tcfg, data_seed, steps, keep_weights_every=0):
    tr = RefTrainer(p0, cfg, tcfg)
    data = SyntheticActs(data_seed)
    metrics, snaps = [], []
    for s in range(steps):
        x = data.batch(tcfg["train_batch_size"])
        metrics.append(tr.step(x))
        if keep_weights_every and (s + 1) % keep_weights_every == 0:
            snaps.append({"after_step": s, "params": params_json({k: v.data for k, v in tr.p.items()})})
    feature_sparsity = tr.act_freq / tr.n_frac if tr.n_frac else torch.full((D_SAE,), float("nan"))
    return {
        "name": name, "cfg": cfg, "trainer": tcfg, "data_seed": data_seed, "steps": steps,
        "initial": params_json(p0), "metrics": metrics, "snapshots": snaps,
        "final": params_json({k: v.data for k, v in tr.p.items()}),
        "adam": tr.adam_state(),
        "steps_since_fired": f32list(tr.since_fired), "act_freq_scores": f32list(tr.act_freq),
        "n_frac_active_tokens": tr.n_frac, "feature_sparsity": f32list(feature_sparsity),
    }


def train_fixtures():
    # the PRNG agreement check: first values of the data generator
    gen = Mulberry32(123)
    prng = [gen.next() for _ in range(8)]
    first_batch = SyntheticActs(5).batch(4)

    # one step with clipping engaged (gradient norm far above 1)
    p0 = init_params(2)
    one = run_trajectory("one_step_clipped", p0, {**BASE_CFG}, {**BASE_TCFG, "lr": 1e-3, "l1_coefficient": 0.5},
                         data_seed=21, steps=1)

    # 200 steps: LR warm-up + cosine + linear decay, L1 warm-up, a dozen dead features.
    # Ghost grads are off here: SAELens's ghost loss is chaotic in float32 (its rescale factor
    # m / (m_g + 1e-6) spikes where the ghost output nearly equals the residual), so a 1e-7
    # relative perturbation of the weights grows to ~1e-2 within 200 ghost steps even in torch
    # alone (see README.md). The ghost trajectory below is short enough to stay comparable.
    p0 = init_params(3)
    p0["b_enc"][:12] -= 4.0  # a dozen features start (and stay) dead
    traj_cfg = {**BASE_CFG}
    traj_t = {**BASE_TCFG, "lr": 4e-3, "lr_scheduler_name": "cosineannealing", "lr_warm_up_steps": 20,
              "lr_decay_steps": 30, "l1_coefficient": 0.08, "l1_warm_up_steps": 25, "total_training_steps": 200,
              "feature_sampling_window": 25, "dead_feature_window": 8}
    traj = run_trajectory("trajectory_200", p0, traj_cfg, traj_t, data_seed=99, steps=200, keep_weights_every=50)

    # 20 steps with ghost grads on dead features (in play from step 9 on), warm-up, decay, L1 warm-up
    ghost_cfg = {**BASE_CFG, "use_ghost_grads": True}
    ghost_t = {**traj_t, "lr": 1e-3, "lr_warm_up_steps": 5, "lr_decay_steps": 5, "l1_warm_up_steps": 5,
               "total_training_steps": 20, "use_ghost_grads": True}
    ghost = run_trajectory("ghost_20", p0, ghost_cfg, ghost_t, data_seed=99, steps=20, keep_weights_every=5)

    # fine-tuning phases (SAELens switches after step T = training_tokens / batch has run)
    ft = []
    for method, norm in [("decoder", True), ("scale", False), ("unrotated_decoder", False)]:
        cfg = {**BASE_CFG, "normalize_sae_decoder": norm}
        t = {**BASE_TCFG, "lr": 2e-3, "lr_warm_up_steps": 4, "l1_coefficient": 0.02, "total_training_steps": 12,
             "finetuning_method": method, "finetuning_steps": 10, "adam_beta1": 0.9}
        ft.append(run_trajectory(f"finetune_{method}", init_params(4), cfg, t, data_seed=31, steps=22))

    dump("train.json", {"prng_seed": 123, "prng": prng, "first_batch_seed": 5, "first_batch": f32list(first_batch),
                        "one_step": one, "trajectory": traj, "ghost": ghost, "finetune": ft})
    for r in (traj, ghost):
        dead = [m["dead"] for m in r["metrics"]]
        ghost_steps = sum(1 for m in r["metrics"] if m["ghost"] != 0)
        print(f"{r['name']}: max dead {max(dead)}, steps with ghost loss {ghost_steps}, final mse {r['metrics'][-1]['mse']:.4f}")


# ---------------------------------------------------------------------------------------------
# 5. SAE folders in SAELens's on-disk layout (safetensors written by hand: no safetensors module)


def v15_cfg(d_in, d_sae, **over):
    # the fields SAELens v1.5.0 save_model dumps (LanguageModelSAERunnerConfig.__dict__)
    cfg = dict(
        model_name="gelu-2l", model_class_name="HookedTransformer", hook_point="blocks.0.hook_mlp_out",
        hook_point_eval="blocks.{layer}.attn.pattern", hook_point_layer=0, hook_point_head_index=None,
        dataset_path="NeelNanda/c4-tokenized-2b", streaming=True, is_dataset_tokenized=True, context_size=128,
        use_cached_activations=False, cached_activations_path=None, d_in=d_in, d_sae=d_sae,
        b_dec_init_method="geometric_median", expansion_factor=d_sae // d_in, activation_fn="relu",
        normalize_sae_decoder=True, noise_scale=0.0, from_pretrained_path=None, apply_b_dec_to_input=True,
        decoder_orthogonal_init=False, decoder_heuristic_init=False, init_encoder_as_decoder_transpose=False,
        n_batches_in_buffer=20, training_tokens=2000000, finetuning_tokens=0, store_batch_size=32,
        train_batch_size=4096, normalize_activations=False, device="cpu", seed=42, dtype="torch.float32",
        prepend_bos=True, adam_beta1=0, adam_beta2=0.999, mse_loss_normalization=None, l1_coefficient=0.001,
        lp_norm=1, scale_sparsity_penalty_by_decoder_norm=False, l1_warm_up_steps=0, lr=0.0003,
        lr_scheduler_name="constant", lr_warm_up_steps=500, lr_end=3e-05, lr_decay_steps=0, n_restart_cycles=1,
        finetuning_method=None, use_ghost_grads=False, feature_sampling_window=2000, dead_feature_window=1000,
        dead_feature_threshold=1e-08, log_to_wandb=True, log_activations_store_to_wandb=False,
        log_optimizer_state_to_wandb=False, wandb_project="mats_sae_training_language_model", wandb_id=None,
        run_name=f"{d_sae}-L1-0.001-LR-0.0003-Tokens-2.000e+06", wandb_entity=None, wandb_log_frequency=10,
        eval_every_n_wandb_logs=100, resume=False, n_checkpoints=0, checkpoint_path="checkpoints", verbose=True,
        model_kwargs={}, sae_lens_version="1.5.0", sae_lens_training_version="1.5.0", tokens_per_buffer=67108864,
    )
    cfg.update(over)
    return cfg


def folder_fixtures():
    x = SyntheticActs(8).batch(6)
    # v1.5: flat cfg, tanh-relu, fine-tuned scaling factor
    p = init_params(5)
    p["scaling_factor"] = 0.5 + torch.rand(D_SAE, generator=torch.Generator().manual_seed(6))
    d = os.path.join(OUT, "saelens_v1_5")
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, "sae_weights.safetensors"),
                      {k: p[k] for k in ["W_enc", "b_enc", "W_dec", "b_dec", "scaling_factor"]},
                      {"format": "pt"})
    cfg = v15_cfg(D_IN, D_SAE, activation_fn="tanh-relu", hook_point="blocks.1.hook_resid_pre", hook_point_layer=1)
    with open(os.path.join(d, "cfg.json"), "w") as f:
        json.dump(cfg, f)
    sparsity = torch.log10(torch.rand(D_SAE, generator=torch.Generator().manual_seed(9)) * 0.1 + 1e-10)
    write_safetensors(os.path.join(d, "sparsity.safetensors"), {"sparsity": sparsity})
    r15 = sae_forward(p, x, {**BASE_CFG, "activation_fn": "tanh-relu"}, 0.0, training=False)

    # v6: architecture + metadata, no scaling_factor, apply_b_dec_to_input false
    p6 = init_params(7)
    d6 = os.path.join(OUT, "saelens_v6")
    os.makedirs(d6, exist_ok=True)
    write_safetensors(os.path.join(d6, "sae_weights.safetensors"),
                      {k: p6[k] for k in ["W_enc", "b_enc", "W_dec", "b_dec"]}, {"format": "pt"})
    cfg6 = {
        "d_in": D_IN, "d_sae": D_SAE, "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": False,
        "normalize_activations": "none", "reshape_activations": "none", "architecture": "standard",
        "metadata": {
            "sae_lens_version": "6.5.1", "sae_lens_training_version": "6.5.1", "model_name": "gpt2",
            "hook_name": "blocks.3.hook_resid_post", "hook_head_index": None, "prepend_bos": True,
            "dataset_path": "apollo-research/roneneldan-TinyStories-tokenizer-gpt2", "context_size": 256,
            "model_class_name": "HookedTransformer", "model_from_pretrained_kwargs": {},
            "seqpos_slice": [None], "exclude_special_tokens": False,
        },
    }
    with open(os.path.join(d6, "cfg.json"), "w") as f:
        json.dump(cfg6, f)
    r6 = sae_forward(p6, x, {**BASE_CFG, "apply_b_dec_to_input": False}, 0.0, training=False)
    dump("saelens_folders.json", {
        "x": f32list(x), "n": 6,
        "v1_5": {"feature_acts": f32list(r15["feature_acts"]), "sae_out": f32list(r15["sae_out"]),
                 "sparsity": f32list(sparsity)},
        "v6": {"feature_acts": f32list(r6["feature_acts"]), "sae_out": f32list(r6["sae_out"])},
    })


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    which = sys.argv[1:] or ["forward", "schedules", "gm", "train", "folders"]
    if "forward" in which:
        forward_cases()
    if "schedules" in which:
        schedules()
    if "gm" in which:
        geometric_median_fixture()
    if "train" in which:
        train_fixtures()
    if "folders" in which:
        folder_fixtures()
