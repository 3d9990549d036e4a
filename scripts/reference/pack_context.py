"""
Golden token streams for packContext: runs SAELens v1.5.0's own
ActivationsStore.get_batch_tokens / _get_next_dataset_tokens (imported from its source, with
its heavy imports stubbed) on seeded random tokenized documents.

  git -C <SAELens clone> show v1.5.0:sae_lens/training/activations_store.py > /tmp/activations_store.py
  /usr/bin/python3 scripts/reference/pack_context.py /tmp/activations_store.py > test/fixtures/runners/pack_context.json
"""
import importlib.util
import json
import random
import sys
import types

import torch


def stub(name, **attrs):
    m = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(m, k, v)
    sys.modules[name] = m
    return m


class _Any:
    pass


stub("tqdm", tqdm=_Any)
stub("datasets", Dataset=_Any, DatasetDict=_Any, IterableDataset=_Any, IterableDatasetDict=_Any, load_dataset=None)
stub("safetensors", safe_open=None)
stub("safetensors.torch", load_file=None, save_file=None)
stub("transformer_lens")
stub("transformer_lens.hook_points", HookedRootModule=_Any)
stub("sae_lens")
stub("sae_lens.training")
stub("sae_lens.training.config", CacheActivationsRunnerConfig=_Any, LanguageModelSAERunnerConfig=_Any)

spec = importlib.util.spec_from_file_location("activations_store", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
Store = mod.ActivationsStore


def stream(docs, context_size, store_batch_size, prepend_bos, bos):
    s = Store.__new__(Store)
    s.store_batch_size = store_batch_size
    s.context_size = context_size
    s.device = "cpu"
    s.prepend_bos = prepend_bos
    s.is_dataset_tokenized = True
    s.tokens_column = "tokens"
    s.n_dataset_processed = 0
    s.model = types.SimpleNamespace(tokenizer=types.SimpleNamespace(bos_token_id=bos))
    s.iterable_dataset = iter([{"tokens": d} for d in docs])
    batches = []
    while True:
        try:
            b = s.get_batch_tokens()
        except StopIteration:
            break
        batches.append(b.tolist())
    return batches


rng = random.Random(1234)
cases = []
for context_size, store_batch_size, prepend_bos in [
    (4, 2, True),
    (4, 2, False),
    (5, 3, True),
    (8, 1, True),
    (3, 4, True),
    (6, 2, False),
]:
    bos = 0
    docs = []
    for _ in range(40):
        n = rng.randint(1, 14)
        d = [rng.randint(1, 50) for _ in range(n)]
        r = rng.random()
        if r < 0.6:
            d[0] = bos  # documents that start with BOS (tokenized with prepend_bos)
        elif r < 0.7 and n > 2:
            d[rng.randint(1, n - 1)] = bos  # BOS inside a document
        docs.append(d)
    cases.append(
        {
            "contextSize": context_size,
            "storeBatchSize": store_batch_size,
            "prependBos": prepend_bos,
            "bos": bos,
            "docs": docs,
            "batches": stream(docs, context_size, store_batch_size, prepend_bos, bos),
        }
    )
json.dump({"source": "SAELens v1.5.0 ActivationsStore.get_batch_tokens", "cases": cases}, sys.stdout)
