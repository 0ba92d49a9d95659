"""PyTorch eager training steps of an official FLatten model, driven by bench/train_onnx.ts over stdin.

Imports the official model file from the directories in FLATTEN_TORCH_PATH (the official repository's
models/ and whatever provides timm and einops); nothing of the official code is kept in this repository.
Protocol: one JSON line per request, {"threads": t} runs one AdamW step on t threads and answers
{"sec": seconds, "loss": value}; the first line printed is {"ready": true} (or {"error": why}).
"""
import contextlib
import json
import os
import sys
import time

try:
    sys.path[:0] = [p for p in os.environ.get("FLATTEN_TORCH_PATH", "").split(os.pathsep) if p]
    import importlib

    import torch

    module, ctor, batch, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

    class DropPath(torch.nn.Module):
        """Stochastic depth as timm's DropPath, for a timm stand-in that only covers inference."""

        def __init__(self, drop_prob=0.0):
            super().__init__()
            self.drop_prob = drop_prob

        def forward(self, x):
            if not self.training or not self.drop_prob:
                return x
            keep = 1 - self.drop_prob
            mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
            return x * mask / keep

    import timm.models.layers

    timm.models.layers.DropPath = DropPath
    # the official constructors print their attention types: keep stdout for the protocol
    with contextlib.redirect_stdout(sys.stderr):
        model = getattr(importlib.import_module(module), ctor)(drop_path_rate=0.1)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, size, size, generator=gen) * 2 - 1
    y = torch.randint(0, 1000, (batch,), generator=gen)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
except Exception as e:  # reported to the bench, which then prints our side alone
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
    sys.exit(0)

print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
for line in sys.stdin:
    torch.set_num_threads(json.loads(line)["threads"])
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    print(json.dumps({"sec": time.perf_counter() - t0, "loss": loss.item()}), flush=True)
