#!/usr/bin/env python3
"""
PyTorch reference for sae-rx's SAELens 6 architectures (src/sae/architectures/: standard_v6,
topk, batchtopk, matryoshka_batchtopk). Our own plain-torch code written from SAELens 6's
formulas (sae_lens/saes/{sae,standard_sae,topk_sae,batchtopk_sae,matryoshka_batchtopk_sae}.py,
training/sae_trainer.py, training/optim.py at the newest release): TopK = torch.topk + scatter,
BatchTopK over the flattened batch, AuxK with k_aux = d_in // 2 and the reconstruction without
b_dec (>= 6.36.2), the matryoshka prefix reconstructions after #571 (one global BatchTopK), the
threshold EMA in float64, torch's Adam / clip_grad_norm_ / SequentialLR, and SAELens's
CoefficientScheduler. Writes test/fixtures/sae/saelens6_forward.json and saelens6_train.json.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/reference/saelens6_reference.py
Everything is seeded; rerunning rewrites identical files.
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sae_reference import D_IN, D_SAE, BATCH, L1Sched, SyntheticActs, build_lr_scheduler, dump, f32list  # noqa: E402

torch.set_num_threads(1)
PARAMS = ["W_enc", "b_enc", "W_dec", "b_dec"]


def mse_sum(out, x):
    return torch.nn.functional.mse_loss(out, x, reduction="none").sum(dim=-1).mean()


def topk_acts(h, k):
    vals, idx = torch.topk(h, k=k, dim=-1, sorted=False)
    return torch.zeros_like(h).scatter(-1, idx, vals.relu())


def batch_topk_acts(h, k):
    acts = h.relu()
    flat = acts.flatten()
    n = int(k * acts.shape[:-1].numel())
    t = torch.topk(flat, n, dim=-1)
    return torch.zeros_like(flat).scatter(-1, t.indices, t.values).reshape(acts.shape)


def aux_acts(h, dead, k_aux):
    lat = torch.where(dead[None], h, torch.tensor(-math.inf))
    t = lat.topk(k_aux, sorted=False)
    return torch.zeros_like(h).scatter(-1, t.indices, t.values)


def topk_aux_loss(cfg, p, x, out, h, dead):
    nd = int(dead.sum())
    if nd == 0:
        return out.new_tensor(0.0)
    residual = (x - out).detach()
    k_aux = x.shape[-1] // 2
    scale = min(nd / k_aux, 1.0)
    k_aux = min(k_aux, nd)
    a = aux_acts(h, dead, k_aux)
    if cfg["rescale_acts_by_decoder_norm"]:
        a = a * (1 / p["W_dec"].norm(dim=-1))
    recons = a @ p["W_dec"]
    return cfg["aux_loss_coefficient"] * scale * (recons - residual).pow(2).sum(-1).mean()


def widths_of(cfg):
    w = list(cfg["matryoshka_widths"])
    if w[-1] != D_SAE:
        w.append(D_SAE)
    return w


def prefix_decodes(cfg, p, f, include_outer):
    if cfg["rescale_acts_by_decoder_norm"]:
        f = f * (1 / p["W_dec"].norm(dim=-1))
    widths = widths_of(cfg)
    if not include_outer:
        widths = widths[:-1]
    decoded, prev = p["b_dec"], 0
    for w in widths:
        decoded = f[:, prev:w] @ p["W_dec"][prev:w] + decoded
        prev = w
        yield w, decoded


def matryoshka_aux_loss(cfg, p, x, f, h, dead):
    if int(dead.sum()) == 0:
        return x.new_tensor(0.0)
    k_aux = x.shape[-1] // 2
    wd = p["W_dec"] / p["W_dec"].norm(dim=-1, keepdim=True) if cfg["rescale_acts_by_decoder_norm"] else p["W_dec"]
    terms, prev = [], 0
    for w, partial in prefix_decodes(cfg, p, f, True):
        d = dead[prev:w]
        nd = int(d.sum())
        if nd > 0:
            scale = min(nd / k_aux, 1.0)
            a = aux_acts(h[:, prev:w], d, min(k_aux, nd))
            residual = (x - partial).detach()
            terms.append(scale * ((a @ wd[prev:w]) - residual).pow(2).sum(-1).mean())
        prev = w
    return cfg["aux_loss_coefficient"] * torch.stack(terms).sum()


def forward(arch, cfg, p, x, coeffs, dead):
    """SAELens 6 training_forward_pass: losses by metric name, feature acts, output, stats."""
    sae_in = x - p["b_dec"] if cfg["apply_b_dec_to_input"] else x
    h = sae_in @ p["W_enc"] + p["b_enc"]
    losses, stats = {}, {}
    if arch == "standard_v6":
        f = h.relu()
        out = f @ p["W_dec"] + p["b_dec"]
        losses["mse_loss"] = mse_sum(out, x)
        sparsity = (f * p["W_dec"].norm(dim=1)).norm(p=cfg["lp_norm"], dim=-1)
        losses["l1_loss"] = (coeffs["l1"] * sparsity).mean()
    else:
        if cfg["rescale_acts_by_decoder_norm"]:
            h = h * p["W_dec"].norm(dim=-1)
        f = topk_acts(h, cfg["k"]) if arch == "topk" else batch_topk_acts(h, cfg["k"])
        fs = f * (1 / p["W_dec"].norm(dim=-1)) if cfg["rescale_acts_by_decoder_norm"] else f
        out = fs @ p["W_dec"] + p["b_dec"]
        losses["mse_loss"] = mse_sum(out, x)
        if arch == "matryoshka_batchtopk" and cfg["use_matryoshka_aux_loss"]:
            losses["auxiliary_reconstruction_loss"] = matryoshka_aux_loss(cfg, p, x, f, h, dead)
        else:
            losses["auxiliary_reconstruction_loss"] = topk_aux_loss(cfg, p, x, out, h, dead)
        if arch == "matryoshka_batchtopk":
            for w, recon in prefix_decodes(cfg, p, f, False):
                losses[f"inner_mse_loss_{w}"] = mse_sum(recon, x)
        if arch != "topk":
            pos = f[f > 0]
            stats["min_positive_act"] = float(pos.min().double()) if pos.numel() > 0 else None
    loss = None
    for v in losses.values():
        loss = v if loss is None else loss + v
    return {"hidden_pre": h, "feature_acts": f, "sae_out": out, "losses": losses, "loss": loss, "stats": stats}


def init_params(seed, spread_norms=True):
    g = torch.Generator().manual_seed(seed)
    W_dec = torch.randn(D_SAE, D_IN, generator=g) * 0.3
    if spread_norms:
        # rows of different norms, so rescale_acts_by_decoder_norm matters
        W_dec = W_dec * (0.5 + torch.rand(D_SAE, 1, generator=g) * 1.5)
    return {
        "W_enc": torch.randn(D_IN, D_SAE, generator=g) * 0.3,
        "b_enc": torch.randn(D_SAE, generator=g) * 0.1,
        "W_dec": W_dec,
        "b_dec": torch.randn(D_IN, generator=g) * 0.2,
    }


def saelens6_init(seed, decoder_init_norm=0.1):
    """TrainingSAE.initialize_weights: kaiming-uniform W_dec rows at norm 0.1, W_enc = W_decᵀ."""
    g = torch.Generator().manual_seed(seed)
    W_dec = torch.empty(D_SAE, D_IN)
    bound = math.sqrt(2) * math.sqrt(3 / D_IN)
    W_dec.uniform_(-bound, bound, generator=g)
    W_dec = W_dec / W_dec.norm(dim=-1, keepdim=True) * decoder_init_norm
    return {"W_enc": W_dec.T.clone().contiguous(), "b_enc": torch.zeros(D_SAE), "W_dec": W_dec, "b_dec": torch.zeros(D_IN)}


def pjson(p):
    return {k: f32list(v) for k, v in p.items()}


BASE = {"apply_b_dec_to_input": True, "mse_loss_normalization": None, "decoder_init_norm": 0.1}
TOPK = {**BASE, "aux_loss_coefficient": 1.0, "rescale_acts_by_decoder_norm": True, "use_sparse_activations": False}

FORWARD_CASES = [
    ("standard_v6", "standard_v6", {**BASE, "l1_coefficient": 5.0, "lp_norm": 1.0, "l1_warm_up_steps": 0}, {"l1": 0.3}, 0),
    ("standard_v6_lp2_no_b_dec", "standard_v6", {**BASE, "apply_b_dec_to_input": False, "l1_coefficient": 1.0, "lp_norm": 2.0, "l1_warm_up_steps": 0}, {"l1": 0.7}, 0),
    ("topk_no_dead", "topk", {**TOPK, "k": 6}, {}, 0),
    ("topk_few_dead", "topk", {**TOPK, "k": 6}, {}, 5),
    ("topk_many_dead", "topk", {**TOPK, "k": 6, "aux_loss_coefficient": 0.5}, {}, 40),
    ("topk_no_rescale", "topk", {**TOPK, "k": 6, "rescale_acts_by_decoder_norm": False}, {}, 20),
    ("batchtopk", "batchtopk", {**TOPK, "k": 6.5, "topk_threshold_lr": 0.01}, {}, 12),
    ("batchtopk_no_rescale_no_b_dec", "batchtopk", {**TOPK, "k": 3.0, "topk_threshold_lr": 0.01, "rescale_acts_by_decoder_norm": False, "apply_b_dec_to_input": False}, {}, 40),
    ("matryoshka", "matryoshka_batchtopk", {**TOPK, "k": 6.0, "topk_threshold_lr": 0.01, "matryoshka_widths": [8, 24], "use_matryoshka_aux_loss": False}, {}, 12),
    ("matryoshka_level_aux", "matryoshka_batchtopk", {**TOPK, "k": 6.0, "topk_threshold_lr": 0.01, "matryoshka_widths": [8, 24, 64], "use_matryoshka_aux_loss": True}, {}, 30),
]


def forward_cases():
    x = SyntheticActs(7).batch(BATCH)
    g = torch.Generator().manual_seed(99)
    cases = []
    for i, (name, arch, cfg, coeffs, n_dead) in enumerate(FORWARD_CASES):
        p0 = init_params(100 + i)
        dead = torch.zeros(D_SAE, dtype=torch.bool)
        dead[torch.randperm(D_SAE, generator=g)[:n_dead]] = True
        p = {k: v.clone().requires_grad_(True) for k, v in p0.items()}
        r = forward(arch, cfg, p, x, coeffs, dead)
        r["loss"].backward()
        cases.append({
            "name": name, "arch": arch, "cfg": cfg, "coefficients": coeffs,
            "dead": [int(j) for j in torch.nonzero(dead).flatten()],
            "params": pjson(p0),
            "expected": {
                "hidden_pre": f32list(r["hidden_pre"]), "feature_acts": f32list(r["feature_acts"]),
                "sae_out": f32list(r["sae_out"]),
                "losses": {k: float(v) for k, v in r["losses"].items()}, "loss": float(r["loss"]),
                "stats": r["stats"],
                "grads": {k: f32list(p[k].grad) for k in PARAMS},
            },
        })
    dump("saelens6_forward.json", {"d_in": D_IN, "d_sae": D_SAE, "batch": BATCH, "x": f32list(x), "cases": cases})


class RefTrainer6:
    """SAELens 6 SAETrainer._train_step for one SAE (Adam, clip 1.0, LR + coefficient schedulers)."""

    def __init__(self, arch, cfg, tcfg, p0):
        self.arch, self.cfg, self.t = arch, cfg, tcfg
        self.p = {k: torch.nn.Parameter(v.clone()) for k, v in p0.items()}
        self.opt = torch.optim.Adam([self.p[k] for k in PARAMS], lr=tcfg["lr"], betas=(tcfg["adam_beta1"], tcfg["adam_beta2"]))
        self.sched = build_lr_scheduler(self.opt, tcfg["lr_scheduler_name"], tcfg["total_training_steps"], tcfg["lr"],
                                        tcfg["lr_warm_up_steps"], tcfg["lr_decay_steps"], tcfg["lr"] / 10, 1)
        self.coeffs = {"l1": L1Sched(cfg["l1_warm_up_steps"], cfg["l1_coefficient"])} if arch == "standard_v6" else {}
        self.since_fired = torch.zeros(D_SAE)
        self.act_freq = torch.zeros(D_SAE)
        self.n_frac = 0
        self.n_steps = 0
        self.threshold = torch.tensor(0.0, dtype=torch.double)

    def step(self, x):
        t, k = self.t, self.n_steps
        if (k + 1) % t["feature_sampling_window"] == 0:
            self.act_freq = torch.zeros(D_SAE)
            self.n_frac = 0
        dead = self.since_fired > t["dead_feature_window"]
        coeffs = {n: s.cur for n, s in self.coeffs.items()}
        lr = self.opt.param_groups[0]["lr"]
        r = forward(self.arch, self.cfg, self.p, x, coeffs, dead)
        if self.arch in ("batchtopk", "matryoshka_batchtopk") and r["stats"]["min_positive_act"] is not None:
            tlr = self.cfg["topk_threshold_lr"]
            self.threshold = (1 - tlr) * self.threshold + tlr * torch.tensor(r["stats"]["min_positive_act"], dtype=torch.double)
        with torch.no_grad():
            fa = r["feature_acts"]
            firing = fa.bool().float()
            did_fire = firing.sum(-2).bool()
            self.since_fired += 1
            self.since_fired[did_fire] = 0
            self.act_freq += firing.sum(0)
            self.n_frac += x.shape[0]
        self.opt.zero_grad(set_to_none=True)
        r["loss"].backward()
        torch.nn.utils.clip_grad_norm_([self.p[n] for n in PARAMS], 1.0)
        self.opt.step()
        self.sched.step()
        for s in self.coeffs.values():
            s.step()
        with torch.no_grad():
            l0 = (fa > 0).float().sum(-1).mean()
            per_tok = (r["sae_out"] - x).pow(2).sum(-1)
            ev = 1 - per_tok / (x - x.mean(0)).pow(2).sum(-1)
        self.n_steps += 1
        return {"step": k, "losses": {n: float(v) for n, v in r["losses"].items()}, "total": float(r["loss"]),
                "l0": float(l0), "ev_mean": float(ev.mean()), "dead": int(dead.sum()), "lr": lr,
                "coefficients": coeffs, "topk_threshold": float(self.threshold)}


TCFG = {"lr": 2e-3, "lr_scheduler_name": "constant", "lr_warm_up_steps": 10, "lr_decay_steps": 0,
        "adam_beta1": 0.9, "adam_beta2": 0.999, "train_batch_size": BATCH, "total_training_steps": 150,
        "feature_sampling_window": 40, "dead_feature_window": 15}

TRAIN_RUNS = [
    ("standard_v6", "standard_v6", {**BASE, "l1_coefficient": 0.5, "lp_norm": 1.0, "l1_warm_up_steps": 30}),
    ("topk", "topk", {**TOPK, "k": 4}),
    ("batchtopk", "batchtopk", {**TOPK, "k": 4.0, "topk_threshold_lr": 0.01}),
    ("matryoshka_batchtopk", "matryoshka_batchtopk", {**TOPK, "k": 4.0, "topk_threshold_lr": 0.01, "matryoshka_widths": [8, 24], "use_matryoshka_aux_loss": False}),
]


def train_runs():
    runs = []
    for i, (name, arch, cfg) in enumerate(TRAIN_RUNS):
        p0 = saelens6_init(500 + i)
        tr = RefTrainer6(arch, cfg, TCFG, p0)
        data = SyntheticActs(40 + i)
        metrics, snaps = [], []
        for s in range(TCFG["total_training_steps"]):
            metrics.append(tr.step(data.batch(BATCH)))
            if (s + 1) % 50 == 0:
                snaps.append({"after_step": s, "params": pjson({k: v.data for k, v in tr.p.items()})})
        runs.append({"name": name, "arch": arch, "cfg": cfg, "trainer": TCFG, "data_seed": 40 + i,
                     "initial": pjson(p0), "metrics": metrics, "snapshots": snaps,
                     "final": pjson({k: v.data for k, v in tr.p.items()}),
                     "steps_since_fired": f32list(tr.since_fired), "topk_threshold": float(tr.threshold)})
    dump("saelens6_train.json", {"d_in": D_IN, "d_sae": D_SAE, "runs": runs})


if __name__ == "__main__":
    which = sys.argv[1:] or ["forward", "train"]
    if "forward" in which:
        forward_cases()
    if "train" in which:
        train_runs()
