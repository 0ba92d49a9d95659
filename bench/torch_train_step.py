"""PyTorch eager training steps of an official FLatten model, driven by bench/train_onnx.ts over stdin.

Imports the official model file from the directories in FLATTEN_TORCH_PATH (the official repository's
models/ and whatever provides timm and einops); nothing of the official code is kept in this repository. The
official code has no FLatten-DeiT: for module flatten_deit this file builds flatten_deit_fmnist from our
definition (src/models/deit.ts, src/attention/deit.ts), transcribed to PyTorch below.
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
    chans, classes = int(sys.argv[5]), int(sys.argv[6])
    F = torch.nn.functional

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

    class DeitAttention(torch.nn.Module):
        """Focused linear attention over cls + N tokens, PE on K, the head-shared DWC on the patches' V."""

        def __init__(self, dim, heads, side, p=3, k=5):
            super().__init__()
            self.heads, self.side, self.p = heads, side, p
            self.qkv, self.proj = torch.nn.Linear(dim, 3 * dim), torch.nn.Linear(dim, dim)
            self.scale = torch.nn.Parameter(torch.zeros(1, 1, dim))
            self.positional_encoding = torch.nn.Parameter(torch.zeros(1, side * side + 1, dim))
            self.dwc = torch.nn.Conv2d(dim // heads, dim // heads, k, padding=k // 2, groups=dim // heads)

        def focus(self, t):
            t = (F.relu(t) + 1e-6) / F.softplus(self.scale)
            tp = t**self.p
            return tp * (t.norm(dim=-1, keepdim=True) / tp.norm(dim=-1, keepdim=True))

        def forward(self, x):
            b, n, c = x.shape
            h, d = self.heads, c // self.heads
            q, k, v = self.qkv(x).chunk(3, dim=-1)
            q, k = self.focus(q), self.focus(k + self.positional_encoding)
            q, k, v = (t.reshape(b, n, h, d).transpose(1, 2) for t in (q, k, v))  # (B, h, n, d)
            z = 1 / (q @ k.sum(dim=2).unsqueeze(-1) + 1e-6)  # (B, h, n, 1)
            o = ((q @ (k.transpose(-1, -2) @ v)) * z).transpose(1, 2).reshape(b, n, c)
            img = v[:, :, 1:].transpose(-1, -2).reshape(b * h, d, self.side, self.side)
            dwc = self.dwc(img).reshape(b, h, d, n - 1).permute(0, 3, 1, 2).reshape(b, n - 1, c)
            return self.proj(torch.cat([o[:, :1], o[:, 1:] + dwc], 1))

    class DeitBlock(torch.nn.Module):
        def __init__(self, dim, heads, side, mlp, drop):
            super().__init__()
            self.norm1, self.norm2 = torch.nn.LayerNorm(dim, eps=1e-6), torch.nn.LayerNorm(dim, eps=1e-6)
            self.attn = DeitAttention(dim, heads, side)
            self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, mlp), torch.nn.GELU(), torch.nn.Linear(mlp, dim))
            self.drop_path = DropPath(drop)

        def forward(self, x):
            x = x + self.drop_path(self.attn(self.norm1(x)))
            return x + self.drop_path(self.mlp(self.norm2(x)))

    class FlattenDeit(torch.nn.Module):
        """flatten_deit_fmnist: 28², patches of 4, 64 channels, 4 blocks of 2 heads, MLP ×2, 10 classes."""

        def __init__(self, drop_path_rate, img=28, patch=4, chans=1, classes=10, dim=64, depth=4, heads=2):
            super().__init__()
            side = img // patch
            self.patch_embed = torch.nn.Conv2d(chans, dim, patch, stride=patch)
            self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, dim))
            self.pos_embed = torch.nn.Parameter(torch.zeros(1, side * side + 1, dim))
            rates = torch.linspace(0, drop_path_rate, depth).tolist()
            self.blocks = torch.nn.Sequential(*[DeitBlock(dim, heads, side, 2 * dim, r) for r in rates])
            self.norm, self.head = torch.nn.LayerNorm(dim, eps=1e-6), torch.nn.Linear(dim, classes)

        def forward(self, x):
            t = self.patch_embed(x).flatten(2).transpose(1, 2)
            t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], 1) + self.pos_embed
            return self.head(self.norm(self.blocks(t))[:, 0])

    if module == "flatten_deit":
        model = FlattenDeit(drop_path_rate=0.1)
    else:
        import timm.models.layers

        timm.models.layers.DropPath = DropPath
        # the released PVT configs build with config.py's PVT_LA_SR_RATIOS = 1111 (models/build.py), not the
        # constructors' default '8421' (spatial reduction), which is another, smaller model
        released = {"la_sr_ratios": "1111"} if module in ("flatten_pvt", "flatten_pvt_v2") else {}
        # the official constructors print their attention types: keep stdout for the protocol
        with contextlib.redirect_stdout(sys.stderr):
            model = getattr(importlib.import_module(module), ctor)(drop_path_rate=0.1, **released)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, chans, size, size, generator=gen) * 2 - 1
    y = torch.randint(0, classes, (batch,), generator=gen)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
except Exception as e:  # reported to the bench, which then prints our side alone
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
    sys.exit(0)

params = sum(p.numel() for p in model.parameters())
print(json.dumps({"ready": True, "torch": torch.__version__, "params": params}), flush=True)
for line in sys.stdin:
    torch.set_num_threads(json.loads(line)["threads"])
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    print(json.dumps({"sec": time.perf_counter() - t0, "loss": loss.item()}), flush=True)
