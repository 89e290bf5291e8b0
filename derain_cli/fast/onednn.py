"""The CPU fast path: oneDNN convolutions with fused post-ops on channels_last tensors, fp32 or bf16.

Per stage, with C = 32 channels:
- ``z = relu(conv0(cat(y, x)))``: the ReLU runs inside the convolution.
- The four gate convolutions run as one 64 -> 128 convolution with a sigmoid post-op
  (``derain_cli.fast.gates``); in the first stage ``h = c = 0`` and only ``z``'s half of
  the weights is used.
- SAPNet's attention scales are computed from window sums of each convolution's input
  (``derain_cli.fast.attention``) and folded into the block's second convolution, ReLU as a
  post-op: a residual block is two convolutions, two read-only reductions and one add.
- ``x = conv(r) + y`` with the addition as a binary post-op.

Memory: the state (y, x, h, c and two feature maps, about 0.5 KB per pixel) is kept at full
resolution, but the wide temporaries (the 64-channel gate input, the 128 gate channels, a
block's second output) exist only for a band of rows at a time. Bands are exact: each
convolution reads the rows around its band from the full-resolution input, so the result
does not depend on the band height.

bf16: feature maps (the ConvLSTM cell included), convolution weights and biases in bf16,
computed by oneDNN's bf16 kernels (fp32 accumulation). Mixed-dtype element-wise ops are
avoided: torch runs them unvectorised (an fp32 cell made tanh 8x slower). Attention
statistics are accumulated in fp32 and the attention is folded into fp32 weights before
rounding; the last stage's output convolution and residual run in fp32, band by band, on
the fp32 input (bf16's spacing near 1 is a full grey level).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from derain_cli.fast.attention import ConvAttention, window_sums
from derain_cli.fast.gates import sigmoid_gate_weights, update_cell
from derain_cli.fast.layout import FusedLayout
from derain_cli.fast.runtime import size_heap_for

_conv = torch.ops.mkldnn._convolution_pointwise
_CL = torch.channels_last

# values per pixel: the state kept at full resolution (y, x, z / h, cell, r, block temporary), and
# the temporaries per band pixel
STATE_VALUES = 3 + 3 + 4 * 32
BAND_VALUES = 64 + 128
DTYPES = (torch.float32, torch.bfloat16)
BAND_PIXELS = 1 << 17  # pixels per band by default (about 100 MB of temporaries)


def available(dtype: torch.dtype = torch.float32) -> bool:
    """True when this torch build has the oneDNN fused convolution operators (and fused add + ReLU) in ``dtype``."""
    return (
        dtype in DTYPES
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
        and hasattr(torch.ops.aten, "_add_relu")
        and (dtype != torch.bfloat16 or torch.ops.mkldnn._is_mkldnn_bf16_supported())
    )


@dataclass(frozen=True)
class _Kernel:
    """A 3x3 convolution (padding = dilation); the weight may be pre-packed for oneDNN."""

    weight: Tensor
    bias: Tensor
    dilation: int = 1

    @classmethod
    def packed(cls, weight: Tensor, bias: Tensor, dilation: int = 1, dtype: torch.dtype = torch.float32) -> "_Kernel":
        """Weight and bias in ``dtype``, the weight reordered once into oneDNN's preferred blocked layout."""
        d = [dilation, dilation]
        size = [1, weight.shape[1], 256, 256]
        packed = torch._C._nn.mkldnn_reorder_conv2d_weight(weight.to(dtype).to_mkldnn(), d, [1, 1], d, 1, size)
        return cls(packed, bias.to(dtype), dilation)


def _rows(x: Tensor, kernel: _Kernel, post: str, first: int, last: int, offset: int = 0, height: int = 0) -> Tensor:
    """Rows [first, last) of ``kernel`` applied to an image ``height`` rows tall, with post-op ``post``.

    ``x`` holds image rows [offset, offset + x.shape[2]) and must cover the rows the band
    reads. Zero padding applies only at the image's own top and bottom.
    """
    d = kernel.dilation
    height = height or x.shape[2]
    lo, hi = max(0, first - d), min(height, last + d)
    pad = max(d - (first - lo), d - (hi - last))  # rows of zeros needed at an image border
    out = _conv(x[:, :, lo - offset : hi - offset], kernel.weight, kernel.bias, [pad, d], [1, 1], [d, d], 1, post, [], "")
    start = first - (lo - pad + d)
    return out[:, :, start : start + last - first]


def bands(height: int, rows: int) -> list[tuple[int, int]]:
    """Split ``height`` rows into bands of at most ``rows`` rows."""
    rows = max(1, rows)
    return [(a, min(height, a + rows)) for a in range(0, height, rows)]


class OneDnnRecurrent:
    """Forward pass of a fused ``RecurrentDerainNet`` layout on the CPU, in float32 or bfloat16.

    ``band_pixels`` bounds the temporaries: peak memory is about :meth:`peak_bytes`, whatever the
    band size (bands are exact).
    """

    exact_bands = True

    def __init__(self, layout: FusedLayout, band_pixels: int = BAND_PIXELS, dtype: torch.dtype = torch.float32) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"the oneDNN path computes in float32 or bfloat16, not {dtype}")
        c, size = layout.channels, dtype.itemsize
        self.layout = layout
        self.dtype = dtype
        self.band_pixels = band_pixels
        self.bytes_per_pixel = size * STATE_VALUES + (12 if dtype != torch.float32 else 0)  # + fp32 input, output
        gate_w, gate_b = sigmoid_gate_weights(layout)

        def pack(weight: Tensor, bias: Tensor, dilation: int = 1) -> _Kernel:
            return _Kernel.packed(weight, bias, dilation, dtype)

        self.conv0 = pack(layout.conv0.weight, layout.conv0.bias)
        self.gates = pack(gate_w, gate_b)
        self.first_gates = pack(gate_w[:, :c].contiguous(), gate_b)  # h = 0: z's half only
        self.out = pack(layout.out.weight, layout.out.bias)
        self.last = _Kernel.packed(layout.final.weight, layout.final.bias)  # the last stage's, in fp32
        self.blocks = [
            (pack(b.first.weight, b.first.bias, b.first.dilation), pack(b.second.weight, b.second.bias, b.second.dilation))
            for b in layout.blocks
        ]
        self.attention = [
            (ConvAttention(b.first, b.attention[0]), ConvAttention(b.second, b.attention[1]))
            for b in layout.blocks if b.attention is not None
        ]

    def peak_bytes(self, pixels: int) -> int:
        """Peak memory of a pass over ``pixels`` pixels: the state, and band temporaries never larger than the image."""
        return self.dtype.itemsize * BAND_VALUES * min(self.band_pixels, pixels) + self.bytes_per_pixel * pixels

    def __call__(self, y: Tensor) -> Tensor:
        """Derain an N x 3 x H x W float32 CPU batch in [0, 1]; returns the final estimate."""
        size_heap_for(self.peak_bytes(y.shape[2] * y.shape[3]))
        return torch.cat([self._one(y[k : k + 1]) for k in range(y.shape[0])])

    def _one(self, y32: Tensor) -> Tensor:
        y32 = y32.float().contiguous(memory_format=_CL)
        y = y32.to(self.dtype)
        spans = bands(y.shape[2], self.band_pixels // y.shape[3])
        x, h, cell = y, None, None
        for stage in range(self.layout.stages):
            z = _run(torch.cat((y, x), 1), self.conv0, "relu")
            if self.layout.lstm_last:
                h, cell = self._lstm(self._blocks(z, spans), h, cell, spans)
                r = h
            else:
                h, cell = self._lstm(z, h, cell, spans)
                r = self._blocks(h, spans)
            del z
            if stage == self.layout.stages - 1:
                return self._final(r, y32, spans)
            x = _add_after(r, y, self.out) if self.layout.residual else _run(r, self.out, "none")
            del r
        raise ValueError("a network without stages")

    def _final(self, r: Tensor, y32: Tensor, spans: Sequence[tuple[int, int]]) -> Tensor:
        """The final estimate ``conv(r) [+ y]`` in fp32 (band by band for bf16 features: no full fp32 copy)."""
        residual = self.layout.residual
        if r.dtype == torch.float32:
            return _add_after(r, y32, self.last) if residual else _run(r, self.last, "none")
        x, height = torch.empty_like(y32), r.shape[2]
        for a, b in spans:
            lo, hi = max(0, a - 1), min(height, b + 1)
            band = _rows(r[:, :, lo:hi].float(), self.last, "none", a, b, lo, height)
            if residual:
                torch.add(band, y32[:, :, a:b], out=x[:, :, a:b])
            else:
                x[:, :, a:b] = band
        return x

    def _lstm(self, z: Tensor, h: Tensor | None, cell: Tensor | None, spans: Sequence[tuple[int, int]]) -> tuple[Tensor, Tensor]:
        """One ConvLSTM step, band by band; returns the new hidden state and cell."""
        c, height = self.layout.channels, z.shape[2]
        first = cell is None
        h_new = torch.empty_like(z)
        cell = torch.empty_like(z) if first else cell
        kernel = self.first_gates if first else self.gates
        for a, b in spans:
            lo, hi = max(0, a - 1), min(height, b + 1)
            u = z[:, :, lo:hi] if first else torch.cat((z[:, :, lo:hi], h[:, :, lo:hi]), 1)
            i, f, g, o = _rows(u, kernel, "sigmoid", a, b, lo, height).split(c, 1)
            band = update_cell(cell[:, :, a:b], i, f, g, first)
            torch.tanh(band, out=h_new[:, :, a:b]).mul_(o)
        return h_new, cell

    def _blocks(self, h: Tensor, spans: Sequence[tuple[int, int]]) -> Tensor:
        """The five residual blocks on features ``h``; the second convolution of each runs band by band."""
        r = torch.empty_like(h)
        for k, (first, second) in enumerate(self.blocks):
            source = h if k == 0 else r
            t = _run(source, first, "relu")
            if self.attention:
                second = self._attended(k, source, t)
            for a, b in spans:
                out = _rows(t, second, "relu", a, b)
                if k == 0 and out.dtype == torch.float32:
                    torch.ops.aten._add_relu.out(out, h[:, :, a:b], out=r[:, :, a:b])
                elif k == 0:  # no fused add + ReLU in bf16
                    torch.add(out, h[:, :, a:b], out=r[:, :, a:b]).relu_()
                else:  # r >= 0 after the first block: relu(relu(v) + r) = relu(v) + r
                    r[:, :, a:b].add_(out)
            del t
        return r

    def _attended(self, k: int, x: Tensor, t: Tensor) -> _Kernel:
        """Block ``k``'s second convolution with both attentions folded in.

        With scales ``a1``, ``a2`` > 0 the block is ``relu(a2 conv2(relu(a1 conv1(x))))``
        ``= relu(conv2'(t))`` where ``t = relu(conv1(x))`` (computed with the packed weights)
        and ``conv2'`` has ``a1`` on its input and ``a2`` on its output channels.
        """
        attend1, attend2 = self.attention[k]
        conv = self.layout.blocks[k].second  # both convolutions of a block share the dilation
        pixels = x.shape[2] * x.shape[3]
        a1 = attend1.scale(window_sums(x, conv.dilation), pixels)
        a2 = attend2.scale(window_sums(t, conv.dilation) * a1, pixels)  # the sums of a1 t
        weight = conv.weight * a2[:, None, None, None] * a1[None, :, None, None]
        return _Kernel(weight.to(self.dtype), (conv.bias * a2).to(self.dtype), conv.dilation)


def _add_after(x: Tensor, y: Tensor, kernel: _Kernel) -> Tensor:
    """``kernel(x) + y``, the addition fused into the convolution."""
    w, b = kernel.weight, kernel.bias
    return _conv.binary(x, y, w, b, [1, 1], [1, 1], [1, 1], 1, "add", None, None, [], None)


def _run(x: Tensor, kernel: _Kernel, post: str) -> Tensor:
    """``kernel`` over the whole of ``x`` with post-op ``post``."""
    d = [kernel.dilation, kernel.dilation]
    return _conv(x, kernel.weight, kernel.bias, d, [1, 1], d, 1, post, [], "")
