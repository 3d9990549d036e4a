"""Golden fixture for src/config: what SAELens v1.5.0's own runner-config dataclasses derive.

Usage (SAELens's source is not vendored; point the script at the tag's config.py):

    git -C <SAELens clone> show v1.5.0:sae_lens/training/config.py > /tmp/config.py
    /usr/bin/python3 scripts/reference/saelens_config.py /tmp/config.py

Writes test/fixtures/config/saelens-1.5.0-post-init.json: for each case, the keyword arguments
and either the dataclass's vars() after __post_init__ (torch dtype/device as SAELens writes them
into cfg.json: str()) or the ValueError message. `wandb` and `sae_lens` are stubbed (the file
only needs `wandb.util.generate_id` and `__version__`), so nothing but torch is required.
"""
import io
import json
import sys
import types
from contextlib import redirect_stdout
from pathlib import Path

config_path = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/config.py")
out_path = Path(__file__).resolve().parents[2] / "test/fixtures/config/saelens-1.5.0-post-init.json"

# Stubs: a fixed run id keeps the fixture deterministic.
wandb = types.ModuleType("wandb")
wandb.util = types.SimpleNamespace(generate_id=lambda: "fixedid1")
sys.modules["wandb"] = wandb
sae_lens = types.ModuleType("sae_lens")
sae_lens.__version__ = "1.5.0"
sys.modules["sae_lens"] = sae_lens

namespace: dict = {"__name__": "saelens_config_v150"}
exec(compile(config_path.read_text(), str(config_path), "exec"), namespace)
LM = namespace["LanguageModelSAERunnerConfig"]
Cache = namespace["CacheActivationsRunnerConfig"]


def dump(cls, kwargs):
    try:
        with redirect_stdout(io.StringIO()):
            cfg = cls(**kwargs)
    except ValueError as e:
        return {"kwargs": kwargs, "error": str(e)}
    d = {k: (str(v) if k in ("dtype", "device") else v) for k, v in vars(cfg).items()}
    return {"kwargs": kwargs, "result": d}


cases = {
    "language_model": [
        dump(LM, {}),  # v1.5.0's default dtype "float32" is not in DTYPE_MAP: it raises
        dump(LM, {"dtype": "torch.float32"}),
        dump(LM, {"dtype": "torch.float32", "d_in": 768, "expansion_factor": 32, "lr": 1e-5,
                  "l1_coefficient": 8e-5, "training_tokens": 300_000_000, "finetuning_tokens": 1_000_000,
                  "wandb_id": "abc", "use_cached_activations": True, "model_name": "gpt2-small",
                  "dataset_path": "Skylion007/openwebtext", "hook_point": "blocks.8.hook_resid_pre",
                  "hook_point_layer": 8, "hook_point_head_index": 3}),
        dump(LM, {"dtype": "torch.float32", "l1_coefficient": [1e-3, 5e-5], "lr": [3e-4, 1e-5],
                  "expansion_factor": [4, 8], "hook_point_layer": [0, 1]}),
        dump(LM, {"dtype": "torch.float32", "decoder_heuristic_init": True}),
        dump(LM, {"dtype": "torch.float32", "scale_sparsity_penalty_by_decoder_norm": True}),
        dump(LM, {"dtype": "torch.float32", "finetuning_method": "decoder"}),
        dump(LM, {"dtype": "torch.float32", "b_dec_init_method": "median"}),
    ],
    "cache_activations": [dump(Cache, {}), dump(Cache, {"hook_point_head_index": 2, "model_name": "a/b"})],
}
out_path.write_text(json.dumps(cases, indent=1) + "\n")
print(f"wrote {out_path}")
