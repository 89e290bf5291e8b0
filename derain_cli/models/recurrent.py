"""The PReNet / SAPNet family: a progressive recurrent network with a ConvLSTM.

One module serves both papers. Every stage sees the rainy input ``y`` and the previous
estimate, runs a ConvLSTM and five residual blocks, and predicts a residual added to ``y``.
SAPNet = dilated blocks (1, 2, 4, 8, 16) with channel residual attention (CRA);
PReNet = plain 3x3 blocks without attention. Parameter names are the authors' own, so their
checkpoints load as published and every checkpoint we write loads in their code.

The PReNet authors' checkpoint for real photos runs a variant graph (their ``Generator_lstm``,
same tensors): the ConvLSTM *after* the residual blocks and no skip from the input (each stage
predicts the clean image itself), 4 stages: ``prenet(stages=4, lstm_last=True, residual=False)``.

VRGNet's deraining network (``final_conv=True``, registered in ``derain_cli.models.vrgnet``) is
PReNet whose last stage has its own output convolution ``convfinal`` (32 -> 6): channels 0-2
plus the input are the derained image, channels 3-5 a log-variance used only in training.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from derain_cli.models.registry import register_model

DILATIONS = (1, 2, 4, 8, 16)
# Allowed stage counts: the papers use 4-6; each stage costs a full pass over the image.
STAGES = (1, 12)


class ChannelResidualAttention(nn.Module):
    """CRA: ``x * sigmoid(W2 relu(W1 avgpool(x)) + W3 avgpool(x))``, 1x1 convs without bias."""

    def __init__(self, channels: int = 32, reduction: int = 16) -> None:
        super().__init__()
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(channels // reduction, channels, 1, bias=False),
        )
        self.conv_1_1 = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.conv_du(s) + self.conv_1_1(s))


def residual_block(channels: int, dilation: int, attention: bool) -> nn.Sequential:
    """conv -> [CRA] -> relu -> conv -> [CRA] -> relu, with padding = dilation."""
    layers: list[nn.Module] = []
    for _ in range(2):
        layers.append(nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation))
        if attention:
            layers.append(ChannelResidualAttention(channels))
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _gate(channels: int, activation: nn.Module, inputs: int = 2) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs * channels, channels, 3, padding=1), activation)


def lstm_gates(channels: int, inputs: int = 2) -> tuple[nn.Sequential, ...]:
    """The ConvLSTM's input, forget, cell and output gate convolutions over ``inputs`` x ``channels``."""
    return tuple(_gate(channels, act, inputs) for act in (nn.Sigmoid(), nn.Sigmoid(), nn.Tanh(), nn.Sigmoid()))


def lstm_step(gates: tuple[nn.Module, ...], u: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """One ConvLSTM step on the concatenated input ``u``: the new hidden state and cell."""
    i, f, g, o = (gate(u) for gate in gates)
    c = f * c + i * g
    return o * torch.tanh(c), c


class RecurrentDerainNet(nn.Module):
    """Progressive recurrent deraining network (PReNet, SAPNet).

    ``forward(y)`` takes an N x 3 x H x W RGB batch in [0, 1] and returns the final estimate
    and the list of every stage's estimate. No clamping happens inside.
    """

    def __init__(
        self,
        stages: int = 6,
        channels: int = 32,
        dilation: bool = True,
        attention: bool = True,
        lstm_last: bool = False,
        residual: bool = True,
        final_conv: bool = False,
    ) -> None:
        super().__init__()
        self.stages = stages
        self.lstm_last = lstm_last
        self.residual = residual
        self.channels = channels
        self.dilations = DILATIONS if dilation else (1,) * len(DILATIONS)
        self.attention = attention
        self.conv0 = nn.Sequential(nn.Conv2d(6, channels, 3, padding=1), nn.ReLU())
        for k, d in enumerate(self.dilations, start=1):
            self.add_module(f"res_conv{k}", residual_block(channels, d, attention))
        self.conv_i, self.conv_f, self.conv_g, self.conv_o = lstm_gates(channels)
        self.conv = nn.Sequential(nn.Conv2d(channels, 3, 3, padding=1))
        if final_conv:
            self.convfinal = nn.Sequential(nn.Conv2d(channels, 2 * 3, 3, padding=1))

    def residual_blocks(self) -> list[nn.Sequential]:
        """The five residual blocks, in order."""
        return [getattr(self, f"res_conv{k}") for k in range(1, len(self.dilations) + 1)]

    def forward(self, y: Tensor) -> tuple[Tensor, list[Tensor]]:
        n, _, height, width = y.shape
        h = y.new_zeros(n, self.channels, height, width)
        c = torch.zeros_like(h)
        x = y
        estimates = []
        for stage in range(self.stages):
            z = self.conv0(torch.cat((y, x), 1))
            if self.lstm_last:
                h, c = self._lstm(self._blocks(z), h, c)
                features = h
            else:
                h, c = self._lstm(z, h, c)
                features = self._blocks(h)
            x = self._output(features, last=stage == self.stages - 1)
            x = x + y if self.residual else x
            estimates.append(x)
        return x, estimates

    def _output(self, features: Tensor, last: bool) -> Tensor:
        """The stage's output convolution; VRGNet's last stage keeps the mean channels of ``convfinal``."""
        if last and hasattr(self, "convfinal"):
            return self.convfinal(features)[:, :3]
        return self.conv(features)

    def _lstm(self, z: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """One ConvLSTM step on features ``z``: the new hidden state and cell."""
        return lstm_step((self.conv_i, self.conv_f, self.conv_g, self.conv_o), torch.cat((z, h), 1), c)

    def _blocks(self, r: Tensor) -> Tensor:
        """The five residual blocks: ``r = relu(block(r) + r)`` each."""
        for block in self.residual_blocks():
            r = torch.relu(block(r) + r)
        return r


@register_model("sapnet", ranges={"stages": STAGES})
def sapnet(stages: int = 6, dilation: bool = True, attention: bool = True) -> RecurrentDerainNet:
    """SAPNet (WACV 2022): dilated residual blocks with channel residual attention."""
    return RecurrentDerainNet(stages=stages, dilation=dilation, attention=attention)


@register_model("prenet", ranges={"stages": STAGES})
def prenet(stages: int = 6, lstm_last: bool = False, residual: bool = True) -> RecurrentDerainNet:
    """PReNet (CVPR 2019): plain 3x3 residual blocks, no attention (options: the real-photo variant)."""
    return RecurrentDerainNet(
        stages=stages, dilation=False, attention=False, lstm_last=lstm_last, residual=residual
    )
