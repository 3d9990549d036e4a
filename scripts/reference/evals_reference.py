#!/usr/bin/python3
"""Reference numbers for src/analysis/evals.ts (SAELens v1.5.0 run_evals / get_recons_loss).

Runs the tiny GPT-2 of ../shared/models/tiny-gpt2-sotu (raw Hugging Face weights, no
TransformerLens processing) with a plain-torch forward pass written here (read from
model.safetensors by hand: struct + json), and a small seeded SAE spliced in at
blocks.1.hook_resid_pre, on fixed token batches. For each batch, as SAELens's get_recons_loss:
  clean loss, loss with the SAE's reconstruction replacing the hook, loss with the hook zeroed
  (means of the next-token cross-entropy), score = (zero - sae) / (zero - clean) (|den| < 1e-4 -> 1),
  KL(clean || spliced) summed over the vocabulary: per position mean and SAELens's batchmean.
Plus the SAE statistics on the hook's activations (l2 norms, ratio, explained variance, l0,
feature firing counts).

Writes test/fixtures/evals/: sae/ (cfg.json in SAELens v1.5's flat layout +
sae_weights.safetensors), evals_reference.json (tokens and expected numbers).
Everything runs in float64 on the float32 weights.

Usage: /usr/bin/python3 scripts/reference/evals_reference.py  (from the repo root)
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_io import read_safetensors, write_safetensors  # noqa: E402

MODEL = os.path.join("..", "shared", "models", "tiny-gpt2-sotu")
OUT = os.path.join("test", "fixtures", "evals")
HOOK = "blocks.1.hook_resid_pre"
D_SAE = 256
SEED = 7

def layer_norm(x, w, b, eps):
    c = x - x.mean(-1, keepdim=True)
    return c / torch.sqrt((c * c).mean(-1, keepdim=True) + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gpt2_forward(cfg, W, tokens, hook=None, cache=None):
    """tokens [B, P] long. hook: (name, fn(act) -> act). Returns logits [B, P, V] float64."""
    d, H = cfg["n_embd"], cfg["n_head"]
    dh = d // H
    eps = cfg["layer_norm_epsilon"]
    B, P = tokens.shape
    p = "transformer."

    def hp(name, x):
        if cache is not None:
            cache[name] = x
        if hook is not None and hook[0] == name:
            return hook[1](x)
        return x

    x = W[p + "wte.weight"][tokens] + W[p + "wpe.weight"][:P][None]
    mask = torch.triu(torch.ones(P, P, dtype=torch.bool), 1)
    for l in range(cfg["n_layer"]):
        q = f"{p}h.{l}."
        x = hp(f"blocks.{l}.hook_resid_pre", x)
        h = layer_norm(x, W[q + "ln_1.weight"], W[q + "ln_1.bias"], eps)
        qkv = h @ W[q + "attn.c_attn.weight"] + W[q + "attn.c_attn.bias"]
        qq, kk, vv = qkv.split(d, -1)
        qq = qq.reshape(B, P, H, dh)
        kk = kk.reshape(B, P, H, dh)
        vv = vv.reshape(B, P, H, dh)
        scores = torch.einsum("bqhd,bkhd->bhqk", qq, kk) / math.sqrt(dh)
        scores = scores.masked_fill(mask, float("-inf"))
        pattern = torch.softmax(scores, -1)
        z = torch.einsum("bhqk,bkhd->bqhd", pattern, vv)
        attn = z.reshape(B, P, d) @ W[q + "attn.c_proj.weight"] + W[q + "attn.c_proj.bias"]
        x = x + attn
        h2 = layer_norm(x, W[q + "ln_2.weight"], W[q + "ln_2.bias"], eps)
        m = gelu_new(h2 @ W[q + "mlp.c_fc.weight"] + W[q + "mlp.c_fc.bias"])
        x = x + (m @ W[q + "mlp.c_proj.weight"] + W[q + "mlp.c_proj.bias"])
    x = layer_norm(x, W[p + "ln_f.weight"], W[p + "ln_f.bias"], eps)
    return x @ W[p + "wte.weight"].T


def loss_per_token(logits, tokens):
    lp = torch.log_softmax(logits, -1)
    return -lp[:, :-1].gather(-1, tokens[:, 1:, None])[..., 0]


def make_sae(d_in, acts):
    g = torch.Generator().manual_seed(SEED)
    # Decoder rows: random unit directions; encoder: the decoder transposed (a crude but
    # non-trivial reconstruction); b_dec: the mean activation; b_enc slightly negative.
    W_dec = torch.randn(D_SAE, d_in, generator=g)
    W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)
    W_enc = W_dec.T.clone() * 0.5
    b_enc = -0.05 - 0.05 * torch.rand(D_SAE, generator=g)
    b_dec = acts.reshape(-1, d_in).mean(0).float()
    return {k: v.float() for k, v in dict(W_enc=W_enc, b_enc=b_enc, W_dec=W_dec, b_dec=b_dec, scaling_factor=torch.ones(D_SAE)).items()}


def sae_forward(S, x):
    sae_in = x - S["b_dec"]
    f = torch.relu(sae_in @ S["W_enc"] + S["b_enc"])
    return (f * S["scaling_factor"]) @ S["W_dec"] + S["b_dec"], f


def main():
    with open(os.path.join(MODEL, "config.json")) as fh:
        cfg = json.load(fh)
    W = {k: v.double() for k, v in read_safetensors(os.path.join(MODEL, "model.safetensors")).items()}
    with open(os.path.join(MODEL, "reference.json")) as fh:
        prompts = [p["tokens"] for p in json.load(fh)["prompts"]]
    bos = cfg["bos_token_id"]
    P = 16
    # two batches of 3 sequences: BOS + 15 tokens of each prompt, from two offsets
    batches = [[[bos] + pr[o : o + P - 1] for pr in prompts] for o in (0, 5)]

    d_in = cfg["n_embd"]
    cache = {}
    gpt2_forward(cfg, W, torch.tensor(batches[0]), cache=cache)
    S = {k: v.double() for k, v in make_sae(d_in, cache[HOOK]).items()}

    os.makedirs(os.path.join(OUT, "sae"), exist_ok=True)
    write_safetensors(os.path.join(OUT, "sae", "sae_weights.safetensors"), {k: v.float() for k, v in S.items()})
    sae_cfg = {
        "model_name": "tiny-gpt2-sotu", "model_class_name": "HookedTransformer", "hook_point": HOOK,
        "hook_point_eval": "blocks.{layer}.attn.pattern", "hook_point_layer": 1, "hook_point_head_index": None,
        "dataset_path": "sotu", "streaming": True, "is_dataset_tokenized": True, "context_size": P,
        "use_cached_activations": False, "cached_activations_path": None, "d_in": d_in, "d_sae": D_SAE,
        "b_dec_init_method": "zeros", "expansion_factor": D_SAE // d_in, "activation_fn": "relu",
        "normalize_sae_decoder": True, "noise_scale": 0.0, "from_pretrained_path": None, "apply_b_dec_to_input": True,
        "decoder_orthogonal_init": False, "decoder_heuristic_init": False, "init_encoder_as_decoder_transpose": False,
        "n_batches_in_buffer": 20, "training_tokens": 2000000, "finetuning_tokens": 0, "store_batch_size": 32,
        "train_batch_size": 4096, "normalize_activations": False, "device": "cpu", "seed": 42, "dtype": "torch.float32",
        "prepend_bos": True, "adam_beta1": 0, "adam_beta2": 0.999, "mse_loss_normalization": None,
        "l1_coefficient": 0.001, "lp_norm": 1, "scale_sparsity_penalty_by_decoder_norm": False, "l1_warm_up_steps": 0,
        "lr": 0.0003, "lr_scheduler_name": "constant", "lr_warm_up_steps": 500, "lr_end": 3e-05, "lr_decay_steps": 0,
        "n_restart_cycles": 1, "finetuning_method": None, "use_ghost_grads": False, "feature_sampling_window": 2000,
        "dead_feature_window": 1000, "dead_feature_threshold": 1e-08, "log_to_wandb": False,
        "log_activations_store_to_wandb": False, "log_optimizer_state_to_wandb": False,
        "wandb_project": "mats_sae_training_language_model", "wandb_id": None, "run_name": "evals-reference",
        "wandb_entity": None, "wandb_log_frequency": 10, "eval_every_n_wandb_logs": 100, "resume": False,
        "n_checkpoints": 0, "checkpoint_path": "checkpoints", "verbose": False, "model_kwargs": {},
        "sae_lens_version": "1.5.0", "sae_lens_training_version": "1.5.0", "tokens_per_buffer": 67108864,
    }
    with open(os.path.join(OUT, "sae", "cfg.json"), "w") as fh:
        json.dump(sae_cfg, fh)

    per_batch = []
    rows = {"l2_in": [], "l2_out": [], "ratio": [], "ev": [], "l0": []}
    fired = torch.zeros(D_SAE, dtype=torch.float64)
    n_tok = 0
    for toks in batches:
        t = torch.tensor(toks)
        cache = {}
        clean = gpt2_forward(cfg, W, t, cache=cache)
        act = cache[HOOK]
        x = act.reshape(-1, d_in)
        out, f = sae_forward(S, x)
        spliced = gpt2_forward(cfg, W, t, hook=(HOOK, lambda a: sae_forward(S, a.reshape(-1, d_in))[0].reshape(a.shape)))
        zero = gpt2_forward(cfg, W, t, hook=(HOOK, lambda a: torch.zeros_like(a)))
        lc, ls, lz = (loss_per_token(l, t).mean().item() for l in (clean, spliced, zero))
        div = lz - lc
        if abs(div) < 1e-4:
            div = 1.0
        lpc = torch.log_softmax(clean, -1)
        lps = torch.log_softmax(spliced, -1)
        kl = (lpc.exp() * (lpc - lps)).sum(-1)  # [B, P]
        per_batch.append({
            "ce_loss_without_sae": lc, "ce_loss_with_sae": ls, "ce_loss_with_ablation": lz,
            "ce_loss_score": (lz - ls) / div, "kl_div": kl.mean().item(), "kl_div_per_sequence": kl.sum().item() / t.shape[0],
        })
        l2_in = x.norm(dim=-1)
        l2_out = out.norm(dim=-1)
        den = torch.where(l2_in.abs() < 1e-4, torch.ones_like(l2_in), l2_in)
        ev = 1 - (out - x).pow(2).sum(-1) / (x - x.mean(0)).pow(2).sum(-1)
        rows["l2_in"].append(l2_in)
        rows["l2_out"].append(l2_out)
        rows["ratio"].append(l2_out / den)
        rows["ev"].append(ev)
        rows["l0"].append((f > 0).double().sum(-1))
        fired += (f > 0).double().sum(0)
        n_tok += x.shape[0]
    mean = lambda k: sum(b[k] for b in per_batch) / len(per_batch)
    cat = {k: torch.cat(v) for k, v in rows.items()}
    freq = fired / n_tok
    expected = {k: mean(k) for k in per_batch[0]}
    expected.update({
        "l2_norm_in": cat["l2_in"].mean().item(), "l2_norm": cat["l2_out"].mean().item(),
        "l2_ratio": cat["ratio"].mean().item(), "explained_variance": cat["ev"].mean().item(),
        "explained_variance_std": cat["ev"].std().item(), "l0": cat["l0"].mean().item(),
        "dead_feature_fraction": (freq <= 0).double().mean().item(),
        "dense_feature_fraction": (freq > 0.1).double().mean().item(),
    })
    with open(os.path.join(OUT, "evals_reference.json"), "w") as fh:
        json.dump({
            "about": "scripts/reference/evals_reference.py: tiny-gpt2-sotu (raw HF weights), SAE in sae/ at " + HOOK,
            "hook_point": HOOK, "batches": batches, "per_batch": per_batch, "expected": expected,
        }, fh, indent=1)
    print(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
