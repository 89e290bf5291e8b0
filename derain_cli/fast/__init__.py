"""Fast inference for the SAPNet/PReNet family (VRGNet's PReNet included), derived from a loaded network at load time.

``accelerate(network, device, dtype)`` returns a callable (N x 3 x H x W in [0, 1] -> float32
final estimate) equal to the plain forward pass up to rounding, with its memory model
(``peak_bytes(pixels)``), or None for other architectures, which keep their plain forward pass.
Every ``RecurrentDerainNet`` graph is served (SAPNet, PReNet, PReNet's real-photo graph, VRGNet's PReNet);
BRN and AIDNet couple two ConvLSTM branches, a graph this fused single-branch layout does not describe.
The network's own parameters (the
authors' names and shapes) are left untouched.
"""

from __future__ import annotations

import torch
from torch import nn

from derain_cli.fast import onednn
from derain_cli.fast.eager import EagerRecurrent
from derain_cli.fast.layout import fuse
from derain_cli.fast.lite import LiteFast
from derain_cli.fast.onednn import OneDnnRecurrent
from derain_cli.fast.precision import PRECISIONS, precision_name, resolve_precision
from derain_cli.fast.runtime import fit_threads
from derain_cli.models.litenet import LiteNet
from derain_cli.models.recurrent import RecurrentDerainNet
from derain_cli.models.registry import is_video_network

__all__ = ["PRECISIONS", "EagerRecurrent", "LiteFast", "OneDnnRecurrent", "accelerate", "precision_name", "resolve_precision", "serves_bf16"]


def serves_bf16(network: nn.Module) -> bool:
    """True when ``network`` has a bf16 CPU path measured within 0.05 dB of fp32: the recurrent family's
    fast path (benchmarks/RESULTS.md), a video model under autocast (S2VD on NTURain a1: -0.025 dB, docs/video.md),
    LiteNet (docs/lite.md)."""
    if is_video_network(network):
        return True
    if isinstance(network, LiteNet):
        return onednn.available(torch.bfloat16)
    return isinstance(network, RecurrentDerainNet) and onednn.available(torch.bfloat16)


def accelerate(
    network: nn.Module, device: torch.device, dtype: torch.dtype, band_pixels: int | None = None
) -> OneDnnRecurrent | EagerRecurrent | LiteFast | None:
    """The fast forward pass of ``network`` on ``device`` in ``dtype``, or None when there is none.

    ``band_pixels`` sets the band size of the CPU path (default ``onednn.BAND_PIXELS``).
    """
    if isinstance(network, LiteNet):
        if device.type == "cpu":
            fit_threads()
        return LiteFast(network, device, dtype)
    if not isinstance(network, RecurrentDerainNet):
        return None
    layout = fuse(network)
    if device.type == "cpu":
        fit_threads()
    if device.type == "cpu" and onednn.available(dtype):
        return OneDnnRecurrent(layout, band_pixels or onednn.BAND_PIXELS, dtype)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return EagerRecurrent(layout, device, dtype)
