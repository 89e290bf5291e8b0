"""The fast path of LiteNet (``derain_cli.models.litenet``): its own forward pass, in the right layout and precision.

LiteNet is convolutions and ReLUs only, so no fused layout is needed: oneDNN and cuDNN run its
graph as it is. What matters is the memory layout and the arithmetic: in bf16 (CPU) and fp16
(CUDA) the network runs under autocast in channels_last, the layout those kernels are written
for. In fp32 the pass is the plain forward pass, NCHW, so fp32 results are exactly the
network's own. Peak memory is stated (:meth:`peak_bytes`) so that whole frames are not tiled
for nothing: the plain forward pass's budget is written for the recurrent networks' 32-channel
full-resolution maps, about 60 times LiteNet's.
"""

from __future__ import annotations

import torch
from torch import Tensor

from derain_cli.models.litenet import LiteNet


class LiteFast:
    """``LiteFast(network, device, dtype)(y)``: N x 3 x H x W in [0, 1] -> float32 estimate."""

    exact_bands = False

    def __init__(self, network: LiteNet, device: torch.device, dtype: torch.dtype) -> None:
        self.network = network
        self.device = device
        self.dtype = dtype
        self.memory_format = torch.contiguous_format if dtype == torch.float32 else torch.channels_last
        network.to(memory_format=self.memory_format)
        channels = network.lite_head.out_channels
        # alive at the peak, per input pixel: input, folded input, output and residual (3 each), and
        # a block's input, two convolution outputs and their sum at 1/scale^2 of the pixels, float32
        # (bf16 keeps float32 input and output beside its half-width maps: counted as float32, a margin)
        self.bytes_per_pixel = 4 * (12 + 4 * channels / network.scale**2)

    def peak_bytes(self, pixels: int) -> int:
        """Peak memory of a pass over ``pixels`` pixels."""
        return int(self.bytes_per_pixel * pixels)

    def __call__(self, y: Tensor) -> Tensor:
        y = y.float().contiguous(memory_format=self.memory_format)
        with torch.autocast(self.device.type, self.dtype, enabled=self.dtype != torch.float32):
            return self.network(y)[0].float()
