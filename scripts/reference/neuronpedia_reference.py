#!/usr/bin/python3
"""Reference batch file of SAELens v1.5's Neuronpedia runner, for src/analysis/neuronpedia.ts.

Our own plain-PyTorch code (no sae_vis, no SAELens import) doing what the runner asks of sae_vis
0.2.18 and how it lays out batch-N.json (read from sae_lens/analysis/neuronpedia_runner.py at
v1.5.0 and sae_vis/data_fetching_fns.py, utils_fns.py, data_storing_fns.py at v0.2.18):
- layout: SequencesConfig(stack_mode="stack-all", buffer=None, compute_buffer=True,
  n_quantiles=5, top_acts_group_size=20, quantile_group_size=5), ActsHistogramConfig(),
  LogitsHistogramConfig(), LogitsTableConfig(), FeatureTablesConfig(n_rows=3);
- float32 throughout, as sae_vis computes;
- the runner's parsing of the group titles, np.round(…, 3) of every list, the HTML_ANOMALIES
  replacements of the vocabulary and <|outofrange|> padding, the key order.

Inputs are seeded random tensors in place of a model (tokens, hook activations, final residual,
W_U) and a small SAE; the TypeScript test feeds the same numbers to saeVisFeatureData.

sae_vis draws the interval examples at random (torch.multinomial); the TypeScript side draws
with its own seeded generator. So for each interval group the fixture lists the rows it may
draw from and, for every row, the activation object the runner would write for it; the top
group and every other field are written as the runner writes them.

Writes test/fixtures/neuronpedia/reference.json. Usage (repo root):
  /usr/bin/python3 scripts/reference/neuronpedia_reference.py
"""
import json
import os

import numpy as np
import torch

OUT = os.path.join("test", "fixtures", "neuronpedia", "reference.json")

N, L, D, V, D_SAE = 6, 12, 8, 50, 10
FEATURES = [1, 3, 4, 6, 9]
N_QUANTILES, TOP_N, Q_N, LOGIT_ROWS, TABLE_ROWS, HOVER, BINS = 5, 20, 5, 10, 3, 5, 50
OUT_OF_RANGE = "<|outofrange|>"
HTML_ANOMALIES = {
    "âĢĶ": "—", "âĢĵ": "–", "âĢľ": "“", "âĢĿ": "”", "âĢĺ": "‘", "âĢĻ": "’",
    "âĢĭ": " ", "Ġ": " ", "Ċ": "\n", "ĉ": "\t",
}

torch.manual_seed(0)
f32 = torch.float32
tokens = torch.randint(0, V, (N, L))
model_acts = torch.randn(N, L, D, dtype=f32)
resid_post = torch.randn(N, L, D, dtype=f32) * 2 + 0.3
W_U = torch.randn(D, V, dtype=f32) * 0.5
W_enc = torch.randn(D, D_SAE, dtype=f32) * 0.6
b_enc = torch.full((D_SAE,), 0.2, dtype=f32)
b_enc[FEATURES[-1]] = -1.0  # a sparse feature
b_dec = torch.randn(D, dtype=f32) * 0.1
W_dec = torch.randn(D_SAE, D, dtype=f32)
W_dec = W_dec / W_dec.norm(dim=-1, keepdim=True)
# vocabulary strings (V - 2 of them: the last two ids are out of range, as the runner pads)
base = ["Ġthe", "Ċ", "âĢĶ", "ĠâĢľquoteâĢĿ", "ĉtab", "<img src=x onerror=\"window.__pwned=1\">", "&amp;", "ĠÃ©"]
vocab = [base[i] if i < len(base) else ("Ġw%d" % i if i % 3 else "w%d" % i) for i in range(V - 2)]

# feature activations of the chosen features (sae_vis compute_feat_acts)
feat_acts = torch.relu((model_acts - b_dec) @ W_enc[:, FEATURES] + b_enc[FEATURES])  # [N, L, F]
feature_out_dir = W_dec[FEATURES]  # [F, D]
feature_resid_dir = feature_out_dir  # a resid hook: to_resid_dir is the identity


def histogram(data, n_bins):
    if data.numel() == 0:
        return [], []
    max_value = data.max().item()
    min_value = data.min().item()
    bin_size = (max_value - min_value) / n_bins
    bin_edges = torch.linspace(min_value, max_value, n_bins + 1)
    heights = torch.histc(data, bins=n_bins).int().tolist()
    values = [round(x, 5) for x in (bin_edges[:-1] + bin_size / 2).tolist()]
    return heights, values


def rolling_corrcoef(x, y, with_self):
    # x [X, T], y [Y, T]; one update (the token set fits one minibatch)
    n = x.shape[-1]
    x_sum, x2_sum = x.sum(-1), (x ** 2).sum(-1)
    xy_sum = x @ y.T
    y_sum, y2_sum = (x_sum, x2_sum) if with_self else (y.sum(-1), (y ** 2).sum(-1))
    cossim = xy_sum / (torch.sqrt(torch.outer(x2_sum, y2_sum)) + 1e-6)
    pearson = (n * xy_sum - torch.outer(x_sum, y_sum)) / (
        torch.sqrt(torch.outer(n * x2_sum - x_sum ** 2, n * y2_sum - y_sum ** 2)) + 1e-6)
    if with_self:
        d = cossim.shape[0]
        cossim[range(d), range(d)] = 0.0
        pearson[range(d), range(d)] = 0.0
    top = pearson.topk(TABLE_ROWS, dim=-1)
    cos_vals = torch.gather(cossim, 1, top.indices)
    return top.indices.tolist(), top.values.tolist(), cos_vals.tolist()


F = len(FEATURES)
acts_flat = feat_acts.reshape(N * L, F).T  # [F, T]
neur_idx, neur_pearson, neur_cos = rolling_corrcoef(acts_flat, model_acts.reshape(N * L, D).T, False)
feat_idx, feat_pearson, feat_cos = rolling_corrcoef(acts_flat, acts_flat, True)
feat_idx = [[FEATURES[i] for i in row] for row in feat_idx]
logits = feature_resid_dir @ W_U  # [F, V]


def vocab_str(t):
    if t > V - 1:
        return OUT_OF_RANGE
    return clean_vocab[t]


clean_vocab = {}
for i, k in enumerate(vocab):
    for a, b in HTML_ANOMALIES.items():
        k = k.replace(a, b)
    clean_vocab[i] = k
for i in range(len(clean_vocab), V):
    clean_vocab[i] = OUT_OF_RANGE


def round_list(xs):
    return [float(x) for x in np.round(np.asarray(xs, dtype=np.float64), 3)]


def sequence_entries(fi, rows):
    """sae_vis get_sequences_data (buffer None, compute_buffer True) for bold tokens in `rows`."""
    fa = feat_acts[..., fi]
    n = len(rows)
    idx = torch.tensor(rows)
    token_ids = tokens[idx][:, 1:]
    pre = fa[idx][:, :-1]
    coloring = fa[idx][:, 1:]
    rp = resid_post[idx][:, :-1]
    effect = pre[..., None] * feature_resid_dir[fi]
    new = rp - effect
    new_logits = (new / new.std(dim=-1, keepdim=True)) @ W_U
    orig_logits = (rp / rp.std(dim=-1, keepdim=True)) @ W_U
    contrib = orig_logits.log_softmax(dim=-1) - new_logits.log_softmax(dim=-1)
    mask = pre.abs() > 1e-5

    def masked_topk(largest):
        if not mask.any():
            t = contrib.topk(HOVER, largest=largest)
            return t.values, t.indices
        t = contrib[mask].topk(HOVER, largest=largest)
        vals = torch.zeros(*mask.shape, HOVER)
        ids = torch.zeros(*mask.shape, HOVER).long()
        vals[mask] = t.values
        ids[mask] = t.indices
        return vals, ids

    tv, ti = masked_topk(True)
    bv, bi = masked_topk(False)
    loss = torch.gather(-contrib, 2, token_ids[..., None])[..., 0]
    out = []
    for b in range(n):
        feat = [round(f, 4) for f in coloring[b].tolist()]
        pos, neg = [], []
        for i in range(L - 1):
            pos.append({"t": [vocab_str(j) for j in ti[b, i].tolist()], "v": round_list(tv[b, i].tolist())})
            neg.append({"t": [vocab_str(j) for j in bi[b, i].tolist()], "v": round_list(bv[b, i].tolist())})
        values = round_list(feat)
        out.append({
            "logitContributions": json.dumps({"pos": pos, "neg": neg}),
            "tokens": [vocab_str(t) for t in token_ids[b].tolist()],
            "values": values,
            "maxValue": max(values),
            "lossValues": round_list(loss[b].tolist()),
        })
    return out


features_out = []
rows_out = []
for fi, feat in enumerate(FEATURES):
    fa = feat_acts[..., fi]
    lv = logits[fi]
    top = lv.topk(LOGIT_ROWS, largest=True)
    bottom = lv.topk(LOGIT_ROWS, largest=False)
    nonzero = fa[fa > 0]
    frac = nonzero.numel() / fa.numel()
    title = f"ACTIVATIONS<br>DENSITY = {frac:.3%}" if nonzero.numel() > 0 else None
    act_h, act_v = histogram(nonzero, BINS)
    log_h, log_v = histogram(lv, BINS)
    al = feature_out_dir[fi].topk(TABLE_ROWS, largest=True)
    l1 = feature_out_dir[fi].abs().sum()

    # groups: top activations, then intervals from the highest
    flat = fa.flatten()
    top_idx = flat.topk(TOP_N).indices
    groups = [(f"TOP ACTIVATIONS<br>MAX = {fa.max():.3f}", top_idx.tolist(), None)]
    q = torch.linspace(0, fa.max().item(), N_QUANTILES + 1)
    for i in range(N_QUANTILES - 1, -1, -1):
        lower, upper = q[i:i + 2].tolist()
        in_range = ((flat >= lower) & (flat <= upper))
        pct = in_range.float().mean()
        eligible = torch.where(in_range)[0].tolist()
        groups.append((f"INTERVAL {lower:.3f} - {upper:.3f}<br>CONTAINS {pct:.3%}", None, eligible))

    entries = {r: e for r, e in zip(range(N), sequence_entries(fi, list(range(N))))}
    activations, interval_groups = [], []
    for gtitle, bold, eligible in groups:
        if "TOP ACTIVATIONS" in gtitle:
            bins = {"binMin": -1, "binMax": float(gtitle.split(" = ")[-1]), "binContains": -1}
            for t in bold:
                activations.append({**bins, **entries[t // L]})
        else:
            split = gtitle.split("<br>")
            first = split[0].split(" ")
            second = split[1].split(" ")
            bins = {"binMin": float(first[1]), "binMax": float(first[-1]), "binContains": float(second[-1].rstrip("%")) / 100}
            interval_groups.append({**bins, "eligible": eligible, "n": min(Q_N, len(eligible))})
    features_out.append({
        "featureIndex": feat,
        "neuron_alignment_indices": al.indices.tolist(),
        "neuron_alignment_values": round_list(al.values.tolist()),
        "neuron_alignment_l1": round_list((al.values.abs() / l1).tolist()),
        "correlated_neurons_indices": neur_idx[fi],
        "correlated_neurons_l1": round_list(neur_cos[fi]),
        "correlated_neurons_pearson": round_list(neur_pearson[fi]),
        "correlated_features_indices": feat_idx[fi],
        "correlated_features_l1": round_list(feat_cos[fi]),
        "correlated_features_pearson": round_list(feat_pearson[fi]),
        "neg_str": [vocab_str(t) for t in bottom.indices.tolist()],
        "neg_values": round_list(bottom.values.tolist()),
        "pos_str": [vocab_str(t) for t in top.indices.tolist()],
        "pos_values": round_list(top.values.tolist()),
        "frac_nonzero": float(title.split(" = ")[1].split("%")[0]) / 100 if title is not None else 0,
        "freq_hist_data_bar_values": round_list(act_v),
        "freq_hist_data_bar_heights": round_list(act_h),
        "logits_hist_data_bar_heights": round_list(log_h),
        "logits_hist_data_bar_values": round_list(log_v),
        "num_tokens_for_dashboard": 7,
        "activations": activations,
    })
    rows_out.append({"intervals": interval_groups, "rowEntries": [entries[r] for r in range(N)]})

batch = {
    "model_id": "tiny-model",
    "layer": str(2),
    "sae_id": "res-test",
    "features": features_out,
    "n_batches_to_sample_from": 3,
    "n_prompts_to_select": 7,
}
inputs = {
    "N": N, "L": L, "D": D, "V": V, "features": FEATURES,
    "tokens": tokens.flatten().tolist(),
    "model_acts": model_acts.flatten().tolist(),
    "resid_post": resid_post.flatten().tolist(),
    "W_U": W_U.flatten().tolist(),
    "feat_acts": feat_acts.flatten().tolist(),
    "W_dec_rows": feature_out_dir.flatten().tolist(),
    "vocab": vocab,
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"inputs": inputs, "batch": batch, "groups": rows_out}, f)
print("wrote", OUT, "features", FEATURES, "non-zero per feature", [(feat_acts[..., i] > 0).sum().item() for i in range(F)])
