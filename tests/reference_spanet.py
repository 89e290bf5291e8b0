"""A plain functional SPANet forward on a raw state dict, written from the authors' code
(stevewongv/SPANet @ 82d2889 : SPANet.py, IRNN_Forward_cuda.cu). Tests compare the package to it.

Works as the authors do: BGR in [0, 1], the clean image out, no skip from the input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

DIRECTIONS = ("up", "right", "down", "left")  # the order the kernel returns and SAM concatenates


def irnn_per_pixel(x: Tensor, sd: dict[str, Tensor], prefix: str) -> list[Tensor]:
    """The CUDA kernel literally: every output pixel runs its own recurrence in from the image edge."""
    n, c, height, width = x.shape
    out = {d: torch.empty_like(x) for d in DIRECTIONS}
    w = {d: sd[f"{prefix}{d}_weight.weight"].reshape(c) for d in DIRECTIONS}
    b = {d: sd[f"{prefix}{d}_weight.bias"] for d in DIRECTIONS}
    for h in range(height):
        for col in range(width):
            v = x[:, :, h, width - 1].clamp(min=0)
            for i in range(width - 2, col - 1, -1):
                v = (v * w["left"] + b["left"] + x[:, :, h, i]).clamp(min=0)
            out["left"][:, :, h, col] = v
            v = x[:, :, h, 0].clamp(min=0)
            for i in range(1, col + 1):
                v = (v * w["right"] + b["right"] + x[:, :, h, i]).clamp(min=0)
            out["right"][:, :, h, col] = v
            v = x[:, :, height - 1, col].clamp(min=0)
            for i in range(height - 2, h - 1, -1):
                v = (v * w["up"] + b["up"] + x[:, :, i, col]).clamp(min=0)
            out["up"][:, :, h, col] = v
            v = x[:, :, 0, col].clamp(min=0)
            for i in range(1, h + 1):
                v = (v * w["down"] + b["down"] + x[:, :, i, col]).clamp(min=0)
            out["down"][:, :, h, col] = v
    return [out[d] for d in DIRECTIONS]


def irnn_sweep(x: Tensor, sd: dict[str, Tensor], prefix: str) -> list[Tensor]:
    """The same recurrences as one sweep per direction (each pixel reuses its neighbour's value)."""
    n, c, height, width = x.shape
    wb = {d: (sd[f"{prefix}{d}_weight.weight"].reshape(1, c, 1), sd[f"{prefix}{d}_weight.bias"].reshape(1, c, 1))
          for d in DIRECTIONS}
    out = {d: torch.empty_like(x) for d in DIRECTIONS}
    out["left"][..., width - 1] = x[..., width - 1].clamp(min=0)
    out["right"][..., 0] = x[..., 0].clamp(min=0)
    out["up"][:, :, height - 1] = x[:, :, height - 1].clamp(min=0)
    out["down"][:, :, 0] = x[:, :, 0].clamp(min=0)
    for i in range(width - 2, -1, -1):
        w, b = wb["left"]
        out["left"][..., i] = (out["left"][..., i + 1] * w + b + x[..., i]).clamp(min=0)
    for i in range(1, width):
        w, b = wb["right"]
        out["right"][..., i] = (out["right"][..., i - 1] * w + b + x[..., i]).clamp(min=0)
    for i in range(height - 2, -1, -1):
        w, b = wb["up"]
        out["up"][:, :, i] = (out["up"][:, :, i + 1] * w + b + x[:, :, i]).clamp(min=0)
    for i in range(1, height):
        w, b = wb["down"]
        out["down"][:, :, i] = (out["down"][:, :, i - 1] * w + b + x[:, :, i]).clamp(min=0)
    return [out[d] for d in DIRECTIONS]


def _sam(x: Tensor, sd: dict[str, Tensor]) -> Tensor:
    # The authors also compute attention_layer(x); its products are discarded (Tensor.mul, not mul_).
    out = F.conv2d(x, sd["SAM1.conv_in.weight"], padding=1)
    out = F.conv2d(torch.cat(irnn_sweep(out, sd, "SAM1.irnn1."), 1), sd["SAM1.conv2.weight"], padding=1)
    out = F.relu(F.conv2d(torch.cat(irnn_sweep(out, sd, "SAM1.irnn2."), 1), sd["SAM1.conv3.weight"], padding=1))
    return torch.sigmoid(F.conv2d(out, sd["SAM1.conv_out.weight"]))


def _bottleneck(x: Tensor, sd: dict[str, Tensor], k: int) -> Tensor:
    p = f"res_block{k}.group1."
    out = F.relu(F.conv2d(x, sd[p + "conv1.weight"]))
    out = F.relu(F.conv2d(out, sd[p + "conv2.weight"], padding=2, dilation=2))
    return F.conv2d(out, sd[p + "conv3.weight"])


def reference_spanet(bgr: Tensor, state: dict[str, Tensor]) -> Tensor:
    """SPANet's derained image (BGR, unclamped) for an N x 3 x H x W BGR batch in [0, 1]."""
    sd = {k.removeprefix("module."): v.float() for k, v in state.items()}
    out = F.relu(F.conv2d(bgr, sd["conv_in.0.weight"], padding=1))
    attention = None
    for k in range(1, 18):
        if k in (4, 7, 10, 13):
            attention = _sam(out, sd)
        block = _bottleneck(out, sd, k)
        out = F.relu(block * attention + out if 4 <= k <= 15 else block + out)
    return F.conv2d(out, sd["conv_out.0.weight"], padding=1)
