"""An independent, functional implementation of the papers' forward pass, written from the design
notes (shared docs section 1) on raw state dicts. Tests compare the package against it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _cra(x: Tensor, sd: dict[str, Tensor], prefix: str) -> Tensor:
    s = F.adaptive_avg_pool2d(x, 1)
    a = F.conv2d(F.relu(F.conv2d(s, sd[prefix + "conv_du.0.weight"])), sd[prefix + "conv_du.2.weight"])
    return x * torch.sigmoid(a + F.conv2d(s, sd[prefix + "conv_1_1.weight"]))


def _conv(x: Tensor, sd: dict[str, Tensor], prefix: str, dilation: int = 1) -> Tensor:
    return F.conv2d(x, sd[prefix + "weight"], sd[prefix + "bias"], padding=dilation, dilation=dilation)


def reference_forward(
    y: Tensor, state: dict[str, Tensor], sapnet: bool, stages: int = 6, real_photo_graph: bool = False
) -> Tensor:
    """SAPNet (``sapnet=True``: dilations 1..16 + CRA) or PReNet forward on an N x 3 x H x W batch.

    ``real_photo_graph``: the PReNet authors' ``Generator_lstm`` (test_real.py): residual blocks
    first, then the ConvLSTM, and the output convolution of ``h`` without the input added.
    """
    sd = {k.removeprefix("module."): v.float() for k, v in state.items()}
    n, _, height, width = y.shape
    h = torch.zeros(n, 32, height, width)
    c = torch.zeros(n, 32, height, width)
    x = y
    def lstm(z: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        u = torch.cat([z, h], 1)
        i = torch.sigmoid(_conv(u, sd, "conv_i.0."))
        f = torch.sigmoid(_conv(u, sd, "conv_f.0."))
        g = torch.tanh(_conv(u, sd, "conv_g.0."))
        o = torch.sigmoid(_conv(u, sd, "conv_o.0."))
        c = f * c + i * g
        return o * torch.tanh(c), c

    def blocks(r: Tensor) -> Tensor:
        for k, d in enumerate((1, 2, 4, 8, 16) if sapnet else (1,) * 5, start=1):
            p = f"res_conv{k}."
            if sapnet:
                b = F.relu(_cra(_conv(r, sd, p + "0.", d), sd, p + "1."))
                b = F.relu(_cra(_conv(b, sd, p + "3.", d), sd, p + "4."))
            else:
                b = F.relu(_conv(F.relu(_conv(r, sd, p + "0.")), sd, p + "2."))
            r = F.relu(b + r)
        return r

    for _ in range(stages):
        z = F.relu(_conv(torch.cat([y, x], 1), sd, "conv0.0."))
        if real_photo_graph:
            h, c = lstm(blocks(z), h, c)
            x = _conv(h, sd, "conv.0.")
        else:
            h, c = lstm(z, h, c)
            x = _conv(blocks(h), sd, "conv.0.") + y
    return x
