#!/usr/bin/python3
"""PyTorch timing of the GPT-2 forward passes that bench/modelForward.ts times in tfjs.

Reuses evals_reference.py's plain-torch GPT-2 (read_safetensors, gpt2_forward: raw Hugging
Face weight names, no TransformerLens processing), run in float32 under torch.inference_mode:

  tiny   the tiny GPT-2 of ../shared/models/tiny-gpt2-sotu, batch 8 x 128
  small  a GPT-2-small-shaped model (12 layers, d_model 768, 12 heads, d_mlp 3072,
         vocab 50257, n_ctx 1024) with seeded random N(0, 0.02^2) weights made in memory
         (LayerNorms 1/0, biases 0, tied unembedding), batch 4 x 128

Per model two variants: 'activations' (the pass stops once the hook is reached, as
sae-rx's runWithCache(tokens, { names: [hook] }) does: the hook's function raises, so no later
block runs) and 'logits' (the full forward). Prints one JSON line per (model, variant):
ms/forward (median after two warm-ups), tokens/s, peak RSS so far (maxRssMB).

  /usr/bin/python3 scripts/reference/model_forward_timing.py [--threads 2] [--model tiny|small]
      [--variant activations|logits] [--iters N] [--hook NAME]
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evals_reference import gpt2_forward  # noqa: E402
from st_io import read_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "..", "shared", "models", "tiny-gpt2-sotu")
DEFAULT_HOOK = {"tiny": "blocks.1.hook_resid_pre", "small": "blocks.6.hook_resid_pre"}
SHAPE = {"tiny": (8, 128), "small": (4, 128)}


class _Reached(Exception):
    """Raised by the hook to end the pass at the hook point (carries the activation)."""

    def __init__(self, act):
        super().__init__()
        self.act = act


def _stop(act):
    raise _Reached(act)


def random_small(seed=0):
    d, H, m, V, n_ctx, L = 768, 12, 3072, 50257, 1024, 12
    g = torch.Generator().manual_seed(seed)
    rn = lambda *s: torch.randn(*s, generator=g) * 0.02  # noqa: E731
    p = "transformer."
    W = {p + "wte.weight": rn(V, d), p + "wpe.weight": rn(n_ctx, d), p + "ln_f.weight": torch.ones(d), p + "ln_f.bias": torch.zeros(d)}
    for l in range(L):
        q = f"{p}h.{l}."
        W.update({
            q + "ln_1.weight": torch.ones(d), q + "ln_1.bias": torch.zeros(d),
            q + "ln_2.weight": torch.ones(d), q + "ln_2.bias": torch.zeros(d),
            q + "attn.c_attn.weight": rn(d, 3 * d), q + "attn.c_attn.bias": torch.zeros(3 * d),
            q + "attn.c_proj.weight": rn(d, d), q + "attn.c_proj.bias": torch.zeros(d),
            q + "mlp.c_fc.weight": rn(d, m), q + "mlp.c_fc.bias": torch.zeros(m),
            q + "mlp.c_proj.weight": rn(m, d), q + "mlp.c_proj.bias": torch.zeros(d),
        })
    cfg = {"n_embd": d, "n_head": H, "n_layer": L, "layer_norm_epsilon": 1e-5, "vocab_size": V}
    return cfg, W


def load_tiny():
    with open(os.path.join(TINY, "config.json")) as fh:
        cfg = json.load(fh)
    return cfg, read_safetensors(os.path.join(TINY, "model.safetensors"))


def time_forward(cfg, W, batch, pos, variant, hook, iters):
    g = torch.Generator().manual_seed(42)
    tokens = torch.randint(0, cfg["vocab_size"], (batch, pos), generator=g)

    def once():
        if variant == "logits":
            return gpt2_forward(cfg, W, tokens)
        try:
            gpt2_forward(cfg, W, tokens, hook=(hook, _stop))
        except _Reached as r:
            return r.act
        raise RuntimeError(f"hook {hook} was never reached")

    with torch.inference_mode():
        once()  # two warm-ups: the second pass is still slower than the rest
        once()
        ts = []
        for _ in range(iters):
            t0 = time.perf_counter()
            once()
            ts.append(time.perf_counter() - t0)
    ms = statistics.median(ts) * 1000
    return ms, ts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", action="append", choices=["tiny", "small"], default=[])
    ap.add_argument("--variant", action="append", choices=["activations", "logits"], default=[])
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--hook", default=None, help="hook point of the activations variant (default per model)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for model in args.model or ["tiny", "small"]:
        if model == "tiny" and not os.path.exists(os.path.join(TINY, "model.safetensors")):
            print(json.dumps({"bench": "modelForward", "impl": "pytorch", "model": model, "skipped": f"{TINY} is absent"}), flush=True)
            continue
        cfg, W = load_tiny() if model == "tiny" else random_small()
        batch, pos = SHAPE[model]
        hook = args.hook or DEFAULT_HOOK[model]
        for variant in args.variant or ["activations", "logits"]:
            ms, ts = time_forward(cfg, W, batch, pos, variant, hook, args.iters)
            print(json.dumps({
                "bench": "modelForward", "impl": "pytorch", "torch": torch.__version__, "threads": args.threads,
                "model": "tiny-gpt2-sotu" if model == "tiny" else "random-gpt2-small", "variant": variant,
                **({"hook": hook} if variant == "activations" else {}),
                "batch": batch, "pos": pos, "iters": args.iters, "msPerForward": round(ms, 2),
                "msPerForwardAll": [round(t * 1000, 2) for t in ts], "tokensPerSec": round(batch * pos * 1000 / ms),
                "maxRssMB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }), flush=True)
        del W


if __name__ == "__main__":
    main()
