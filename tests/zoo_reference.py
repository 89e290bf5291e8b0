"""Plain functional forward passes of VRGNet's PReNet, BRN and AIDNet on raw state dicts.

Written separately from the package, from the authors' code: hongwang01/VRGNet @ 036d7a9
``for_syn/prenet.py``; csdwren/RecDerain @ 5b2ad01 ``generator.py`` (class BRN);
cuiyixin555/AIDNet @ de1a7f0 ``networks/generator_aid135.py`` and ``networks/aid.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

State = dict[str, Tensor]


def strip(state: State) -> State:
    """Drop the authors' wrapper prefixes (``module.`` of DataParallel, ``derainet.`` of VRGNet)."""
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "derainet."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value.float()
    return out


def conv(x: Tensor, sd: State, name: str) -> Tensor:
    w = sd[name + ".weight"]
    return F.conv2d(x, w, sd.get(name + ".bias"), padding=w.shape[-1] // 2)


def block(x: Tensor, sd: State, name: str) -> Tensor:
    """The authors' ``F.relu(self.res_convK(x) + x)``."""
    t = F.relu(conv(F.relu(conv(x, sd, name + ".0")), sd, name + ".2"))
    return F.relu(t + x)


def lstm(u: Tensor, c: Tensor, sd: State, suffix: str = "") -> tuple[Tensor, Tensor]:
    i = torch.sigmoid(conv(u, sd, f"conv_i{suffix}.0"))
    f = torch.sigmoid(conv(u, sd, f"conv_f{suffix}.0"))
    g = torch.tanh(conv(u, sd, f"conv_g{suffix}.0"))
    o = torch.sigmoid(conv(u, sd, f"conv_o{suffix}.0"))
    c = f * c + i * g
    return o * torch.tanh(c), c


def vrgnet_prenet(y: Tensor, state: State) -> Tensor:
    """VRGNet's deraining PReNet: five stages with ``conv``, the sixth with ``convfinal``; returns mu_b."""
    sd = strip(state)
    n, _, height, width = y.shape
    h = torch.zeros(n, 32, height, width)
    c = torch.zeros(n, 32, height, width)
    x = y
    for stage in range(6):
        z = F.relu(conv(torch.cat((y, x), 1), sd, "conv0.0"))
        h, c = lstm(torch.cat((z, h), 1), c, sd)
        x = h
        for k in range(1, 6):
            x = block(x, sd, f"res_conv{k}")
        if stage < 5:
            x = conv(x, sd, "conv.0") + y
        else:
            x = conv(x, sd, "convfinal.0")[:, :3] + y
    return x


def _aid(x: Tensor, sd: State) -> Tensor:
    """The authors' ``AID`` (CBAM): channel gate (avg + max pooled, shared MLP), then spatial gate."""
    p = "cbam_module."

    def mlp(v: Tensor) -> Tensor:
        v = F.relu(F.linear(v, sd[p + "ChannelGate.mlp.1.weight"], sd[p + "ChannelGate.mlp.1.bias"]))
        return F.linear(v, sd[p + "ChannelGate.mlp.3.weight"], sd[p + "ChannelGate.mlp.3.bias"])

    avg = F.avg_pool2d(x, x.shape[2:]).flatten(1)
    mx = F.max_pool2d(x, x.shape[2:]).flatten(1)
    x = x * torch.sigmoid(mlp(avg) + mlp(mx))[:, :, None, None]
    pooled = torch.cat((x.max(1, keepdim=True)[0], x.mean(1, keepdim=True)), 1)
    s = F.conv2d(pooled, sd[p + "SpatialGate.spatial.conv.weight"], padding=3)
    bn = p + "SpatialGate.spatial.bn."
    s = F.batch_norm(s, sd[bn + "running_mean"], sd[bn + "running_var"], sd[bn + "weight"], sd[bn + "bias"], False, 0.01, 1e-5)
    return x * torch.sigmoid(s)


def brn(y: Tensor, state: State, stages: int = 8, attention: bool = False) -> Tensor:
    """The authors' BRN forward (``attention=True``: AIDNet's AID_location135); returns the final x."""
    sd = strip(state)
    n, _, height, width = y.shape
    h, c, h_r, c_r = (torch.zeros(n, 32, height, width) for _ in range(4))
    x = r = y
    for _ in range(stages):
        r = F.relu(conv(torch.cat((y, r), 1), sd, "conv0_r.0"))
        h_r, c_r = lstm(torch.cat((r, h_r, h), 1), c_r, sd, "_r")
        r1 = block(h_r, sd, "res_conv1_r")
        r2 = block(r1, sd, "res_conv2_r")
        r3 = block(r2, sd, "res_conv3_r")
        r = conv(r3, sd, "conv_r.0")
        x = F.relu(conv(torch.cat((y, x, r), 1), sd, "conv0.0"))
        h, c = lstm(torch.cat((x, h, h_r), 1), c, sd)
        x = block(h, sd, "res_conv1")
        if attention:
            x = _aid(r1, sd) * x + x
        x = block(x, sd, "res_conv2")
        x = block(x, sd, "res_conv3")
        if attention:
            x = _aid(r2, sd) * x + x
        x = block(x, sd, "res_conv4")
        x = block(x, sd, "res_conv5")
        if attention:
            x = _aid(r3, sd) * x + x
        x = conv(x, sd, "conv.0")
    return x
