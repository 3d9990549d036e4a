#!/usr/bin/python3
"""Tiny random GPT-NeoX checkpoints in Hugging Face layout, with PyTorch reference outputs.

Writes two model folders under test/fixtures/model/ (the same weights, two configs):
  neox-tiny/      use_parallel_residual=true (Pythia's layout), one model.safetensors
  neox-tiny-seq/  use_parallel_residual=false, weights split into two shards listed by
                  model.safetensors.index.json
Each has config.json and reference.safetensors + reference.json: for a few token sequences,
the logits, per-token loss and every TransformerLens hook (no weight processing, batch dim
dropped), under keys "hf/{i}/{name}".

The forward pass is written here in plain torch, following HF's GPTNeoXForCausalLM: the fused
query_key_value output is viewed as [batch, pos, heads, 3*d_head] and split into q, k, v per
head; rotary (rotate_half, inv_freq from arange(0, rotary_ndims, 2)/rotary_ndims in float32)
on the first rotary_ndims = int(d_head * rotary_pct) dims of q and k; scores / sqrt(d_head);
causal mask; softmax; dense; MLP dense_4h_to_h(gelu(dense_h_to_4h(x))) with exact gelu;
parallel residual x + attn(ln1(x)) + mlp(ln2(x)) or sequential; final_layer_norm; embed_out.
It runs in float64 on the float32 weights; outputs are rounded to float32.

Usage: /usr/bin/python3 scripts/reference/model_neox.py  (from the repo root)
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_io import write_safetensors  # noqa: E402

OUT = os.path.join("test", "fixtures", "model")
SEED = 1234

CFG = {
    "architectures": ["GPTNeoXForCausalLM"],
    "model_type": "gpt_neox",
    "vocab_size": 96,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "hidden_act": "gelu",
    "rotary_pct": 0.5,
    "rotary_emb_base": 10000,
    "max_position_embeddings": 64,
    "layer_norm_eps": 1e-5,
    "use_parallel_residual": True,
    "tie_word_embeddings": False,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "torch_dtype": "float32",
}


def make_weights(cfg):
    g = torch.Generator().manual_seed(SEED)
    d, v, m, n = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]

    def rnd(*shape, std=0.2, mean=0.0):
        return (torch.randn(*shape, generator=g) * std + mean).float()

    w = {"gpt_neox.embed_in.weight": rnd(v, d, std=1.0)}
    for l in range(n):
        p = f"gpt_neox.layers.{l}."
        w[p + "input_layernorm.weight"] = rnd(d, std=0.1, mean=1.0)
        w[p + "input_layernorm.bias"] = rnd(d, std=0.1)
        w[p + "post_attention_layernorm.weight"] = rnd(d, std=0.1, mean=1.0)
        w[p + "post_attention_layernorm.bias"] = rnd(d, std=0.1)
        w[p + "attention.query_key_value.weight"] = rnd(3 * d, d, std=0.3)
        w[p + "attention.query_key_value.bias"] = rnd(3 * d, std=0.1)
        w[p + "attention.dense.weight"] = rnd(d, d)
        w[p + "attention.dense.bias"] = rnd(d, std=0.1)
        w[p + "mlp.dense_h_to_4h.weight"] = rnd(m, d)
        w[p + "mlp.dense_h_to_4h.bias"] = rnd(m, std=0.1)
        w[p + "mlp.dense_4h_to_h.weight"] = rnd(d, m, std=0.1)
        w[p + "mlp.dense_4h_to_h.bias"] = rnd(d, std=0.1)
        # A buffer old checkpoints carry; loaders must skip it.
        w[p + "attention.rotary_emb.inv_freq"] = torch.zeros(4)
    w["gpt_neox.final_layer_norm.weight"] = rnd(d, std=0.1, mean=1.0)
    w["gpt_neox.final_layer_norm.bias"] = rnd(d, std=0.1)
    w["embed_out.weight"] = rnd(v, d, std=0.3)
    return w


def layer_norm(x, w, b, eps):
    c = x - x.mean(-1, keepdim=True)
    return c / torch.sqrt((c * c).mean(-1, keepdim=True) + eps) * w + b


def forward(cfg, w, tokens):
    """tokens: list of ints. Returns (hooks dict, logits [T,V]) in float64."""
    W = {k: t.double() for k, t in w.items()}
    d, H = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = d // H
    r = int(dh * cfg["rotary_pct"])
    eps = cfg["layer_norm_eps"]
    T = len(tokens)
    hooks = {}
    x = W["gpt_neox.embed_in.weight"][torch.tensor(tokens)]
    hooks["hook_embed"] = x
    # rotary tables as HF builds them (float32)
    inv_freq = 1.0 / (cfg["rotary_emb_base"] ** (torch.arange(0, r, 2).float() / r))
    t = torch.arange(T).float()
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat([freqs, freqs], -1)
    cos, sin = emb.cos().double(), emb.sin().double()

    def rot_half(a):
        return torch.cat([-a[..., r // 2 : r], a[..., : r // 2]], -1)

    def rope(a):  # a [T, H, dh]
        ar, ap = a[..., :r], a[..., r:]
        out = ar * cos[:, None, :] + rot_half(ar) * sin[:, None, :]
        return torch.cat([out, ap], -1)

    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{l}."
        b = f"blocks.{l}."
        hooks[b + "hook_resid_pre"] = x
        h1 = layer_norm(x, W[p + "input_layernorm.weight"], W[p + "input_layernorm.bias"], eps)
        hooks[b + "ln1.hook_normalized"] = h1
        qkv = h1 @ W[p + "attention.query_key_value.weight"].T + W[p + "attention.query_key_value.bias"]
        qkv = qkv.view(T, H, 3 * dh)
        q, k, v = qkv[..., :dh], qkv[..., dh : 2 * dh], qkv[..., 2 * dh :]
        hooks[b + "attn.hook_q"], hooks[b + "attn.hook_k"], hooks[b + "attn.hook_v"] = q, k, v
        q, k = rope(q), rope(k)
        hooks[b + "attn.hook_rot_q"], hooks[b + "attn.hook_rot_k"] = q, k
        scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(dh)
        scores = scores.masked_fill(mask, float("-inf"))
        hooks[b + "attn.hook_attn_scores"] = scores
        pattern = torch.softmax(scores, -1)
        hooks[b + "attn.hook_pattern"] = pattern
        z = torch.einsum("hqk,khd->qhd", pattern, v)
        hooks[b + "attn.hook_z"] = z
        attn_out = z.reshape(T, d) @ W[p + "attention.dense.weight"].T + W[p + "attention.dense.bias"]
        hooks[b + "hook_attn_out"] = attn_out
        if cfg["use_parallel_residual"]:
            mlp_in = x
        else:
            mlp_in = x + attn_out
            hooks[b + "hook_resid_mid"] = mlp_in
        h2 = layer_norm(mlp_in, W[p + "post_attention_layernorm.weight"], W[p + "post_attention_layernorm.bias"], eps)
        hooks[b + "ln2.hook_normalized"] = h2
        pre = h2 @ W[p + "mlp.dense_h_to_4h.weight"].T + W[p + "mlp.dense_h_to_4h.bias"]
        hooks[b + "mlp.hook_pre"] = pre
        post = torch.nn.functional.gelu(pre)
        hooks[b + "mlp.hook_post"] = post
        mlp_out = post @ W[p + "mlp.dense_4h_to_h.weight"].T + W[p + "mlp.dense_4h_to_h.bias"]
        hooks[b + "hook_mlp_out"] = mlp_out
        x = x + attn_out + mlp_out if cfg["use_parallel_residual"] else mlp_in + mlp_out
        hooks[b + "hook_resid_post"] = x
    hf = layer_norm(x, W["gpt_neox.final_layer_norm.weight"], W["gpt_neox.final_layer_norm.bias"], eps)
    hooks["ln_final.hook_normalized"] = hf
    logits = hf @ W["embed_out.weight"].T
    return hooks, logits


def sequences(cfg):
    g = torch.Generator().manual_seed(SEED + 1)
    v = cfg["vocab_size"]
    return [
        [0] + torch.randint(1, v, (23,), generator=g).tolist(),
        torch.randint(0, v, (40,), generator=g).tolist(),
    ]


def build(name, cfg, weights, shards):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    names = sorted(weights)
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), weights, {"format": "pt"}, sort_names=True)
    else:
        weight_map = {}
        per = math.ceil(len(names) / shards)
        for s in range(shards):
            fn = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: weights[n] for n in names[s * per : (s + 1) * per]}
            write_safetensors(os.path.join(folder, fn), part, {"format": "pt"}, sort_names=True)
            for n in part:
                weight_map[n] = fn
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)
    refs = {}
    seqs = sequences(cfg)
    for i, toks in enumerate(seqs):
        hooks, logits = forward(cfg, weights, toks)
        for k, t in hooks.items():
            refs[f"hf/{i}/{k}"] = t
        refs[f"hf/{i}/logits"] = logits
        lp = torch.log_softmax(logits, -1)
        refs[f"hf/{i}/loss_per_token"] = -lp[torch.arange(len(toks) - 1), torch.tensor(toks[1:])]
    write_safetensors(os.path.join(folder, "reference.safetensors"), refs, sort_names=True)
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(
            {
                "made_by": "scripts/reference/model_neox.py (plain torch, HF GPTNeoX semantics, float64 then float32)",
                "conventions": "hf/{i}/{hook}: no weight processing; batch dim dropped; per-head hooks [pos, head, d_head]; "
                "scores/pattern [head, q, k] (scores masked with -inf); hook_q/k before rotary, hook_rot_q/k after.",
                "prompts": [{"index": i, "tokens": t} for i, t in enumerate(seqs)],
            },
            f,
            indent=1,
        )


def main():
    torch.manual_seed(SEED)
    w = make_weights(CFG)
    build("neox-tiny", CFG, w, shards=1)
    build("neox-tiny-seq", dict(CFG, use_parallel_residual=False), w, shards=2)


if __name__ == "__main__":
    main()
