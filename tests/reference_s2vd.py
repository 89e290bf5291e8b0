"""A plain functional S2VD forward on a raw state dict, written from the authors' code
(zsyOAOA/S2VD @ e6c09e0 : networks/derain_net.py ``DerainNet``, networks/sub_blocks.py), and their
test script's clip schedule (test_NTURain_synthetic.py). Tests compare the package to them.

Kept deliberately literal: the authors' reshapes and permutes for the 3D pixel (un)shuffle, their
``F.pad(..., mode='replicate')`` on the time axis before each convolution, BatchNorm in eval mode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def unshuffle(x: Tensor, r: int = 2) -> Tensor:
    b, c, d, h, w = x.shape
    t = x.reshape([b, c, d, h // r, r, w // r, r]).permute(0, 1, 4, 6, 2, 3, 5).contiguous()
    return t.view(b, c * r * r, d, h // r, w // r)


def shuffle(x: Tensor, r: int = 2) -> Tensor:
    b, c, d, h, w = x.shape
    t = x.reshape([b, c // (r * r), r, r, d, h, w]).permute(0, 1, 4, 5, 2, 6, 3).contiguous()
    return t.view(b, c // (r * r), d, h * r, w * r)


def conv(x: Tensor, sd: dict[str, Tensor], name: str) -> Tensor:
    """``MyConv3d``: replicate-pad time by 1, then Conv3d with zero padding (0, 1, 1)."""
    x = F.pad(x, pad=(0, 0, 0, 0, 1, 1), mode="replicate")
    return F.conv3d(x, sd[f"{name}.conv.weight"], sd.get(f"{name}.conv.bias"), padding=(0, 1, 1))


def bn(x: Tensor, sd: dict[str, Tensor], name: str) -> Tensor:
    return F.batch_norm(
        x, sd[f"{name}.running_mean"], sd[f"{name}.running_var"], sd[f"{name}.weight"], sd[f"{name}.bias"],
        training=False, eps=1e-5,
    )  # fmt: skip


def reference_s2vd(images: Tensor, sd: dict[str, Tensor], blocks: int = 8) -> Tensor:
    """``DerainNet.forward``: N x 3 x T x H x W RGB in [0, 1] -> the derained clip (not clamped)."""
    x = unshuffle(images)
    x = conv(F.relu(conv(x, sd, "head.0")), sd, "head.2")
    for k in range(blocks):
        r = conv(F.relu(bn(x, sd, f"body.{k}.res.0")), sd, f"body.{k}.res.2")
        r = conv(F.relu(bn(r, sd, f"body.{k}.res.3")), sd, f"body.{k}.res.5")
        x = x + r
    x = shuffle(conv(F.relu(bn(x, sd, f"body.{blocks}")), sd, f"body.{blocks + 2}"))
    out = F.relu(conv(images - x, sd, "tail.0"))
    out = F.relu(conv(out, sd, "tail.2"))
    return conv(out, sd, "tail.4")


def reference_clips(rain: Tensor, sd: dict[str, Tensor], truncate: int = 24, blocks: int = 8) -> Tensor:
    """The authors' test script on a 1 x 3 x T x H x W sequence: clips of ``truncate`` frames, each run
    with 2 more frames on each side that are dropped; outputs clamped to [0, 1]. Needs more than one clip."""
    num_frame = rain.shape[2]
    inds_start = list(range(0, num_frame, truncate))
    inds_end = list(range(truncate, num_frame, truncate)) + [num_frame]
    inds_ext_start = [0] + [x - 2 for x in inds_start[1:]]
    inds_ext_end = [x + 2 for x in inds_end[:-1]] + [num_frame]
    derain = torch.zeros_like(rain)
    for ii in range(len(inds_start)):
        start_ext, end_ext, start, end = inds_ext_start[ii], inds_ext_end[ii], inds_start[ii], inds_end[ii]
        out = reference_s2vd(rain[:, :, start_ext:end_ext], sd, blocks)
        if ii == 0:
            derain[0, :, start:end] = out[:, :, :-2].clamp(0.0, 1.0)
        elif ii + 1 == len(inds_start):
            derain[0, :, start:end] = out[:, :, 2:].clamp(0.0, 1.0)
        else:
            derain[0, :, start:end] = out[:, :, 2:-2].clamp(0.0, 1.0)
    return derain
