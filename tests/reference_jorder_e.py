"""A plain functional JORDER-E forward on a raw state dict, written from the authors' practical
model (flyywh/JORDER-E-Deep-Image-Deraining-TPAMI-2019-Journal @ ccb4a46 :
testing_practical/src/model/jorder_e.py). Tests compare the package to it.

Works as the authors' test does: RGB in [0, 255] (rgb_range 255), the derained image of the
second stage out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _c(x: Tensor, sd: dict[str, Tensor], name: str, dilation: int = 1) -> Tensor:
    return F.conv2d(x, sd[name + ".weight"], sd[name + ".bias"], padding=dilation, dilation=dilation)


def _stage(sd, p, x, x_prev, feat_pre, second, mask_prev, level_prev):
    inp = torch.cat([x, x_prev if second else x], 1)
    f = _c(inp, sd, p + "encoder")
    feats = []
    for i in range(3):
        r = f"{p}updater.res{i + 1}."
        a = F.relu(_c(F.relu(_c(f, sd, r + "conv1")), sd, r + "conv2"))
        b = F.relu(_c(F.relu(_c(f, sd, r + "conv3", 2)), sd, r + "conv4", 2))
        c = F.relu(_c(F.relu(_c(f, sd, r + "conv5", 2)), sd, r + "conv6", 4))
        f = f + a + 0.1 * b + c * 0.1 + (feat_pre[i] if second else 0)
        feats.append(f)
    mask = _c(_c(f, sd, p + "mask_estimator1"), sd, p + "mask_estimator2")
    level = _c(_c(f, sd, p + "level_estimator1"), sd, p + "level_estimator2")
    if second:
        mask, level = mask + mask_prev, level + level_prev

    def enc(name, v):
        return _c(F.relu(_c(v, sd, p + name + "1")), sd, p + name + "2")

    f1 = enc("mask_F_b_encoder", mask) + f + enc("level_F_b_encoder", level)
    f2 = enc("mask_F_w_encoder", mask) * f * enc("level_F_w_encoder", level)
    out = _c(_c(f1 + f2, sd, p + "decoder.0"), sd, p + "decoder.1") + x
    return out, feats, mask, level


def reference_jorder_e(rgb255: Tensor, state: dict[str, Tensor]) -> Tensor:
    """JORDER-E's derained image in [0, 255] (unclamped) for an N x 3 x H x W RGB batch in [0, 255]."""
    sd = {k.removeprefix("module."): v.float() for k, v in state.items()}
    x1, f1, m1, l1 = _stage(sd, "jorder1.", rgb255, None, None, False, None, None)
    x2, _, _, _ = _stage(sd, "jorder2.", rgb255, x1, f1, True, m1, l1)
    return x2
