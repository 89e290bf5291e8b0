"""The portable fast path: standard torch ops, batched, on any device and floating dtype.

Used on CUDA (half precision by default, cuDNN) and on CPUs without oneDNN. Same fused
layout as the oneDNN path: channels_last tensors, one 64 -> 128 gate convolution followed by
one in-place sigmoid, in-place element-wise updates. Attention statistics are computed in
float32 whatever the compute dtype; the last stage's output convolution and residual run in
float32 on the float32 input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from derain_cli.fast.attention import attention_scale
from derain_cli.fast.gates import sigmoid_gate_weights, update_cell
from derain_cli.fast.layout import Attention, Conv, FusedLayout

_CL = torch.channels_last


# values per pixel alive at the peak (the gate step): inputs, z, h, c, the 64-channel gate input, 128 gates
PEAK_VALUES = 3 * 3 + 3 * 32 + 64 + 128


class EagerRecurrent:
    """Forward pass of a fused ``RecurrentDerainNet`` layout with portable ops.

    Peak memory is about ``bytes_per_pixel`` times the batch's pixels.
    """

    exact_bands = False

    def __init__(self, layout: FusedLayout, device: torch.device, dtype: torch.dtype) -> None:
        self.bytes_per_pixel = PEAK_VALUES * dtype.itemsize
        gate_w, gate_b = sigmoid_gate_weights(layout)
        layout = layout.to(device, torch.float32)
        self.layout = layout  # float32: attention matrices
        self.dtype = dtype
        self.weights = layout.to(device, dtype)  # compute dtype: convolutions
        self.gates = Conv(gate_w.to(device, dtype), gate_b.to(device, dtype))
        self.first_gates = Conv(self.gates.weight[:, : layout.channels].contiguous(), self.gates.bias)

    def peak_bytes(self, pixels: int) -> int:
        """Peak memory of a pass over ``pixels`` pixels."""
        return self.bytes_per_pixel * pixels

    def __call__(self, y: Tensor) -> Tensor:
        """Derain an N x 3 x H x W batch in [0, 1]; returns the float32 final estimate."""
        w = self.weights
        y32 = y.float().contiguous(memory_format=_CL)
        y = y.to(self.dtype).contiguous(memory_format=_CL)
        x, h, cell = y, None, None
        for stage in range(self.layout.stages):
            z = self.convolve(torch.cat((y, x), 1), w.conv0).relu_()
            if self.layout.lstm_last:
                h, cell = self._lstm(self._blocks(z), h, cell)
                r = h
            else:
                h, cell = self._lstm(z, h, cell)
                r = self._blocks(h)
            del z
            last = stage == self.layout.stages - 1
            x = self.convolve(r.float() if last else r, self.layout.final if last else w.out)
            if self.layout.residual:
                x = x.add_(y32 if last else y)
        return x

    def _lstm(self, z: Tensor, h: Tensor | None, cell: Tensor | None) -> tuple[Tensor, Tensor]:
        """One ConvLSTM step (``h = c = None``: the first, from zero state)."""
        first = h is None
        if first:
            s = self.convolve(z, self.first_gates)
            cell = torch.empty_like(z)
        else:
            s = self.convolve(torch.cat((z, h), 1), self.gates)
        i, f, g, o = s.sigmoid_().split(self.layout.channels, 1)
        update_cell(cell, i, f, g, first)
        return torch.tanh(cell).mul_(o), cell

    def _blocks(self, r: Tensor) -> Tensor:
        """The five residual blocks."""
        for k, (block, att_block) in enumerate(zip(self.weights.blocks, self.layout.blocks)):
            pair = att_block.attention or (None, None)
            t = self._half(r, block.first, pair[0])
            out = self._half(t, block.second, pair[1])
            r = out.add_(r).relu_() if k == 0 else out.add_(r)  # relu(v) + r when r >= 0
        return r

    def _half(self, x: Tensor, conv: Conv, att: Attention | None) -> Tensor:
        """relu([CRA](conv(x)))."""
        v = self.convolve(x, conv)
        if att is not None:
            mean = v.mean((2, 3), dtype=torch.float32)
            scale = attention_scale(att, mean.T).T  # batched: matrices act on the channel axis
            v.mul_(scale.to(v.dtype)[:, :, None, None])
        return v.relu_()

    def convolve(self, x: Tensor, conv: Conv) -> Tensor:
        """Every convolution of the pass goes through here (a hook for simulating other arithmetic)."""
        d = conv.dilation
        return F.conv2d(x, conv.weight, conv.bias, padding=d, dilation=d)
