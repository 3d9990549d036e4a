#!/usr/bin/env python3
"""
PyTorch timing of a SAELens 6 TopK / BatchTopK training step, for bench/compareTorchTopK.ts
(our own code; SAELens 6's formulas from sae_lens/saes/topk_sae.py, batchtopk_sae.py and
training/sae_trainer.py), written as SAELens runs it: dense autograd.

  step: sae_in = x - b_dec; hidden_pre = (sae_in @ W_enc + b_enc) * ||W_dec||_rows
        TopK: topk(hidden_pre, k).relu() scattered into zeros; BatchTopK: the int(k*batch)
        largest of relu(hidden_pre) over the batch
        sae_out = (acts / ||W_dec||) @ W_dec + b_dec; mse = ((sae_out - x)^2).sum(-1).mean()
        AuxK when latents are dead (steps since fired > 1000): k_aux = min(d_in // 2, dead),
        scale = min(dead / (d_in // 2), 1), top-k_aux of hidden_pre over dead latents,
        recons = (aux_acts / ||W_dec||) @ W_dec, loss += scale * ((recons - (x - sae_out).detach())^2).sum(-1).mean()
        fired bookkeeping; backward; clip_grad_norm_(params, 1.0); Adam(lr 3e-4, (0.9, 0.999));
        BatchTopK: threshold EMA of the smallest positive activation.

  /usr/bin/python3 scripts/reference/topk_train_timing.py --shape D_IN,D_SAE,BATCH --k K
      --arch topk|batchtopk --data FILE [--threads 2] [--warmup 2] [--steps 3] [--dead-frac F]

FILE: float32 little-endian batches [n*BATCH, D_IN] (the same file our worker reads), used in
turn. --dead-frac marks that fraction of the latents dead from the start (AuxK active).
Prints one JSON line: ms/step (median after warm-up), tokens/s, L0, peak RSS (maxRssMB).
"""
import argparse
import json
import resource
import statistics
import time

import numpy as np
import torch

DEAD_FEATURE_WINDOW = 1000


def init(d_in, d_sae):
    g = torch.Generator().manual_seed(0)
    bound = (2 ** 0.5) * (3 / d_in) ** 0.5  # kaiming_uniform_ on [d_sae, d_in]
    W_dec = (torch.rand(d_sae, d_in, generator=g) * 2 - 1) * bound
    W_dec = W_dec / W_dec.norm(dim=-1, keepdim=True) * 0.1  # decoder_init_norm 0.1
    return {
        "W_enc": torch.nn.Parameter(W_dec.T.clone().contiguous()),
        "b_enc": torch.nn.Parameter(torch.zeros(d_sae)),
        "W_dec": torch.nn.Parameter(W_dec),
        "b_dec": torch.nn.Parameter(torch.zeros(d_in)),
    }


def encode(p, x, k, arch):
    sae_in = x - p["b_dec"]
    hidden_pre = (sae_in @ p["W_enc"] + p["b_enc"]) * p["W_dec"].norm(dim=-1)
    if arch == "topk":
        vals, idx = torch.topk(hidden_pre, k=k, dim=-1, sorted=False)
        acts = torch.zeros_like(hidden_pre)
        acts.scatter_(-1, idx, vals.relu())
    else:
        relu = hidden_pre.relu()
        flat = relu.flatten()
        vals, idx = torch.topk(flat, int(k * x.shape[0]), dim=-1, sorted=False)
        acts = torch.zeros_like(flat).scatter(-1, idx, vals).reshape(relu.shape)
    return acts, hidden_pre


def decode_no_bias(p, acts):
    return (acts * (1 / p["W_dec"].norm(dim=-1))) @ p["W_dec"]


def step(p, opt, x, k, arch, since_fired, state):
    dead_mask = since_fired > DEAD_FEATURE_WINDOW
    acts, hidden_pre = encode(p, x, k, arch)
    sae_out = decode_no_bias(p, acts) + p["b_dec"]
    mse = (sae_out - x).pow(2).sum(dim=-1).mean()
    loss = mse
    num_dead = int(dead_mask.sum())
    if num_dead > 0:
        residual = (x - sae_out).detach()
        k_aux = x.shape[-1] // 2
        scale = min(num_dead / k_aux, 1.0)
        k_aux = min(k_aux, num_dead)
        auxk_latents = torch.where(dead_mask[None], hidden_pre, -torch.inf)
        top = auxk_latents.topk(k_aux, sorted=False)
        auxk_acts = torch.zeros_like(hidden_pre).scatter(-1, top.indices, top.values)
        recons = decode_no_bias(p, auxk_acts)
        loss = loss + scale * (recons - residual).pow(2).sum(dim=-1).mean()
    with torch.no_grad():
        did_fire = (acts > 0).float().sum(-2) > 0
        since_fired += 1
        since_fired[did_fire] = 0
        state["act_freq"] += (acts.abs() > 0).float().sum(0)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
    opt.step()
    if arch == "batchtopk":
        with torch.no_grad():
            pos = acts[acts > 0]
            if pos.numel() > 0:
                state["threshold"] = 0.99 * state["threshold"] + 0.01 * float(pos.min())
    return float(loss), float((acts > 0).float().sum(-1).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", required=True)
    ap.add_argument("--k", type=float, required=True)
    ap.add_argument("--arch", choices=["topk", "batchtopk"], default="topk")
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--dead-frac", type=float, default=0.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    d_in, d_sae, batch = (int(v) for v in a.shape.split(","))
    k = int(a.k) if a.arch == "topk" else a.k
    data = np.fromfile(a.data, dtype="<f4")
    n = data.size // (batch * d_in)
    if n < 1:
        raise SystemExit(f"{a.data}: less than one batch of {batch}x{d_in}")
    batches = [torch.from_numpy(data[i * batch * d_in:(i + 1) * batch * d_in].reshape(batch, d_in).copy()) for i in range(n)]
    del data
    p = init(d_in, d_sae)
    opt = torch.optim.Adam(list(p.values()), lr=3e-4, betas=(0.9, 0.999))
    since_fired = torch.zeros(d_sae)
    since_fired[: int(a.dead_frac * d_sae)] = DEAD_FEATURE_WINDOW + 1
    state = {"act_freq": torch.zeros(d_sae), "threshold": 0.0}
    ms, l0s = [], []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        _, l0 = step(p, opt, batches[i % n], k, a.arch, since_fired, state)
        if i >= a.warmup:
            ms.append((time.perf_counter() - t0) * 1000)
            l0s.append(round(l0, 2))
    m = statistics.median(ms)
    print(json.dumps({
        "impl": "torch", "torch": torch.__version__, "threads": a.threads, "arch": a.arch, "dIn": d_in, "dSae": d_sae,
        "batch": batch, "k": a.k, "deadFrac": a.dead_frac, "steps": a.steps, "msPerStep": round(m),
        "msPerStepAll": [round(v) for v in ms], "tokensPerSec": round(batch * 1000 / m), "l0": l0s,
        "maxRssMB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
