#!/usr/bin/env python3
"""
PyTorch timing of the SAELens v1.5.0 training step that bench/trainStep.ts times in tfjs:
W_dec renormalization, forward (relu SAE, apply_b_dec_to_input), mse + l1 loss, backward,
clip_grad_norm_(1.0), removal of the W_dec gradient component parallel to its rows, Adam
(β1 0, β2 0.999), plus the dead-feature bookkeeping. Our own code, SAELens's formulas.

  /usr/bin/python3 scripts/reference/sae_train_timing.py [--threads 2] [--quick]
      [--shape D_IN,D_SAE,BATCH ...] [--steps N] [--warmup N] [--no-matmul]

Prints one JSON line per shape: ms/step (median after warm-up), tokens/s, GFLOP/s of the
step (12·batch·d_in·d_sae) and of a plain matmul of the same shape, and the process's peak
RSS so far (maxRssMB: resource.getrusage high-water; run one shape per process to read it
per shape, as bench/compareTorch.ts does).
"""
import argparse
import json
import resource
import statistics
import time

import torch


def make(d_in, d_sae):
    g = torch.Generator().manual_seed(0)
    W_dec = (torch.rand(d_sae, d_in, generator=g) * 2 - 1) * (6 / d_in) ** 0.5
    W_dec /= W_dec.norm(dim=1, keepdim=True)
    W_enc = (torch.rand(d_in, d_sae, generator=g) * 2 - 1) * (6 / d_sae) ** 0.5
    p = {
        "b_enc": torch.nn.Parameter(torch.zeros(d_sae)),
        "W_dec": torch.nn.Parameter(W_dec),
        "W_enc": torch.nn.Parameter(W_enc),
        "b_dec": torch.nn.Parameter(torch.zeros(d_in)),
        "scaling_factor": torch.nn.Parameter(torch.ones(d_sae), requires_grad=False),
    }
    return p


def step(p, opt, x, l1c, since_fired, act_freq):
    with torch.no_grad():
        p["W_dec"].data /= torch.norm(p["W_dec"].data, dim=1, keepdim=True)
    sae_in = x - p["b_dec"]
    hidden_pre = sae_in @ p["W_enc"] + p["b_enc"]
    f = torch.relu(hidden_pre)
    out = (f * p["scaling_factor"]) @ p["W_dec"] + p["b_dec"]
    mse = torch.nn.functional.mse_loss(out, x, reduction="none").sum(-1).mean()
    l1 = (l1c * f.norm(p=1, dim=-1)).mean()
    loss = mse + l1
    did_fire = (f > 0).float().sum(-2) > 0
    since_fired += 1
    since_fired[did_fire] = 0
    with torch.no_grad():
        act_freq += (f.abs() > 0).float().sum(0)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
    with torch.no_grad():
        par = (p["W_dec"].grad * p["W_dec"].data).sum(-1)
        p["W_dec"].grad -= par[:, None] * p["W_dec"].data
    opt.step()
    return float(loss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--shape", action="append", default=[], help="D_IN,D_SAE,BATCH (repeatable)")
    ap.add_argument("--steps", type=int, default=0, help="timed steps (default 3 or 5)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--no-matmul", action="store_true", help="skip the plain matmul timing")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.shape:
        shapes = [tuple(int(v) for v in s.split(",")) for s in args.shape]
        if any(len(s) != 3 for s in shapes):
            ap.error("--shape takes D_IN,D_SAE,BATCH")
    else:
        shapes = [(512, 4096, 4096)] if args.quick else [(512, 4096, 4096), (768, 12288, 4096)]
    for d_in, d_sae, batch in shapes:
        p = make(d_in, d_sae)
        opt = torch.optim.Adam(list(p.values()), lr=3e-4, betas=(0.0, 0.999))
        x = torch.randn(batch, d_in, generator=torch.Generator().manual_seed(1))
        since_fired = torch.zeros(d_sae)
        act_freq = torch.zeros(d_sae)
        steps = args.steps or (3 if (args.quick or d_sae > 4096) else 5)
        ts = []
        for i in range(args.warmup + steps):
            t0 = time.perf_counter()
            step(p, opt, x, 1e-3, since_fired, act_freq)
            if i >= args.warmup:
                ts.append(time.perf_counter() - t0)
        mm = []
        if not args.no_matmul:
            a, b = torch.randn(batch, d_in), torch.randn(d_in, d_sae)
            a @ b
            for _ in range(5):
                t0 = time.perf_counter()
                a @ b
                mm.append(time.perf_counter() - t0)
        ms = statistics.median(ts) * 1000
        mm_ms = statistics.median(mm) * 1000 if mm else float("nan")
        flops = 12 * batch * d_in * d_sae
        print(json.dumps({
            "bench": "trainStep", "impl": "pytorch", "torch": torch.__version__, "threads": args.threads,
            "dIn": d_in, "dSae": d_sae, "batch": batch, "steps": steps, "msPerStep": round(ms),
            "msPerStepAll": [round(t * 1000) for t in ts], "tokensPerSec": round(batch * 1000 / ms),
            "trainGflops": round(flops / (ms * 1e6), 1),
            **({"matMulMs": round(mm_ms), "matMulGflops": round(2 * batch * d_in * d_sae / (mm_ms * 1e6), 1)} if mm else {}),
            "maxRssMB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }), flush=True)


if __name__ == "__main__":
    main()
