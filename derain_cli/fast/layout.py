"""The fused weight layout of a loaded ``RecurrentDerainNet``, derived once at load time.

The module keeps the authors' parameter names; the fast paths read this layout instead:
the four ConvLSTM gate convolutions concatenated into one 64 -> 128 convolution (rows in
load order i, f, g, o), and each residual block as two convolutions plus, for SAPNet, the
matrices of its channel residual attention. The PReNet real-photo graph (ConvLSTM after the
blocks, no skip from the input) is two flags of the same layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from derain_cli.models.recurrent import ChannelResidualAttention, RecurrentDerainNet


@dataclass(frozen=True)
class Conv:
    """A 3x3 convolution with ``padding = dilation``."""

    weight: Tensor
    bias: Tensor
    dilation: int = 1


@dataclass(frozen=True)
class Attention:
    """CRA as matrices: ``a = sigmoid(up @ relu(down @ s) + skip @ s)`` for channel means ``s``."""

    down: Tensor
    up: Tensor
    skip: Tensor


@dataclass(frozen=True)
class Block:
    """One residual block: conv -> [CRA] -> relu -> conv -> [CRA] -> relu."""

    first: Conv
    second: Conv
    attention: tuple[Attention, Attention] | None


@dataclass(frozen=True)
class FusedLayout:
    """Everything a fast forward pass needs, as plain detached tensors."""

    stages: int
    channels: int
    conv0: Conv
    gates: Conv
    blocks: tuple[Block, ...]
    out: Conv
    final: Conv  # the last stage's output convolution: ``out``, or VRGNet's ``convfinal`` mean channels
    lstm_last: bool = False  # the ConvLSTM after the residual blocks (PReNet's real-photo graph)
    residual: bool = True  # each stage's estimate is conv(features) + y (else conv(features) alone)

    def to(self, device: torch.device, dtype: torch.dtype) -> "FusedLayout":
        """A copy with every tensor on ``device`` in ``dtype``."""
        return _map(self, lambda t: t.to(device, dtype))


def _conv(module: nn.Module, dilation: int = 1) -> Conv:
    assert isinstance(module, nn.Conv2d) and module.bias is not None
    # a copy in the default layout, whatever the module's (a bf16 training run keeps channels_last)
    return Conv(module.weight.detach().clone(memory_format=torch.contiguous_format), module.bias.detach().clone(), dilation)


def _attention(module: ChannelResidualAttention) -> Attention:
    return Attention(
        down=module.conv_du[0].weight.detach()[:, :, 0, 0].clone(),
        up=module.conv_du[2].weight.detach()[:, :, 0, 0].clone(),
        skip=module.conv_1_1.weight.detach()[:, :, 0, 0].clone(),
    )


def _block(seq: nn.Sequential, dilation: int, attention: bool) -> Block:
    convs = [m for m in seq if isinstance(m, nn.Conv2d)]
    cras = [m for m in seq if isinstance(m, ChannelResidualAttention)]
    pair = (_attention(cras[0]), _attention(cras[1])) if attention else None
    return Block(_conv(convs[0], dilation), _conv(convs[1], dilation), pair)


def fuse(network: RecurrentDerainNet) -> FusedLayout:
    """Derive the fused layout from a network (its parameters are left untouched)."""
    gate_convs = [network.conv_i[0], network.conv_f[0], network.conv_g[0], network.conv_o[0]]
    gates = Conv(
        torch.cat([c.weight.detach() for c in gate_convs]),
        torch.cat([c.bias.detach() for c in gate_convs]),
    )
    blocks = tuple(
        _block(seq, d, network.attention) for seq, d in zip(network.residual_blocks(), network.dilations)
    )
    return FusedLayout(
        stages=network.stages,
        channels=network.channels,
        conv0=_conv(network.conv0[0]),
        gates=gates,
        blocks=blocks,
        out=_conv(network.conv[0]),
        final=_final(network),
        lstm_last=network.lstm_last,
        residual=network.residual,
    )


def _final(network: RecurrentDerainNet) -> Conv:
    if not hasattr(network, "convfinal"):
        return _conv(network.conv[0])
    conv = _conv(network.convfinal[0])
    return Conv(conv.weight[:3].clone(), conv.bias[:3].clone())


def _map(layout: FusedLayout, fn) -> FusedLayout:
    def conv(c: Conv) -> Conv:
        return Conv(fn(c.weight), fn(c.bias), c.dilation)

    def att(a: Attention) -> Attention:
        return Attention(fn(a.down), fn(a.up), fn(a.skip))

    blocks = tuple(
        Block(conv(b.first), conv(b.second), None if b.attention is None else (att(b.attention[0]), att(b.attention[1])))
        for b in layout.blocks
    )
    return FusedLayout(
        layout.stages, layout.channels, conv(layout.conv0), conv(layout.gates), blocks, conv(layout.out), conv(layout.final),
        layout.lstm_last, layout.residual,
    )
