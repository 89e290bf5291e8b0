"""The ConvLSTM gates with a single sigmoid.

``tanh(g) = 1 - 2 sigmoid(-2g)``: scaling the ``g`` rows of the fused gate convolution by -2
lets one sigmoid cover all four gates, and with ``s = sigmoid(-2g)`` the cell update
``c = f c + i tanh(g) = (f c + i) - 2 i s`` takes two fused multiply-adds.
"""

from __future__ import annotations

import torch
from torch import Tensor

from derain_cli.fast.layout import FusedLayout


def sigmoid_gate_weights(layout: FusedLayout) -> tuple[Tensor, Tensor]:
    """The fused gate weight and bias (rows i, f, g, o) with the ``g`` rows scaled by -2."""
    c = layout.channels
    weight, bias = layout.gates.weight.clone(), layout.gates.bias.clone()
    weight[2 * c : 3 * c] *= -2
    bias[2 * c : 3 * c] *= -2
    return weight, bias


def update_cell(cell: Tensor, i: Tensor, f: Tensor, s: Tensor, first: bool) -> Tensor:
    """In place: ``c = f c + i tanh(g)``, or ``c = i tanh(g)`` in the first stage (``s = sigmoid(-2g)``)."""
    if first:
        return torch.addcmul(i, i, s, value=-2, out=cell)
    return torch.addcmul(i, f, cell, out=cell).addcmul_(i, s, value=-2)
