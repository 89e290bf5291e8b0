"""The ``--precision`` of training and adaptation: autocast and memory layout, weights kept in fp32."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from derain_cli.cpu_bf16 import runs_bf16_fast
from derain_cli.errors import UsageError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve(precision: str, device: torch.device) -> str:
    """``auto`` -> bf16 on CPUs that run bf16 natively, fp32 elsewhere (CUDA included); others are checked."""
    if precision == "auto":
        return "bf16" if device.type == "cpu" and runs_bf16_fast() else "fp32"
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise UsageError(f"--precision fp16 is for CUDA devices; use bf16 or fp32 on {device.type}")
    if precision == "bf16" and device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        raise UsageError("--precision bf16: this CPU has no bf16 support in oneDNN; use fp32")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UsageError(f"--precision bf16 is not supported by {torch.cuda.get_device_name(device)}; use fp16")
    return precision


def autocast(precision: str, device: torch.device) -> AbstractContextManager[object]:
    """bf16 / fp16 autocast of the forward pass and losses (fp32 master weights); nothing for fp32."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def memory_format(precision: str, device: torch.device) -> torch.memory_format:
    """channels_last for bf16 on the CPU (oneDNN's fast bf16 layout); the default layout otherwise.

    fp32 stays NCHW: on the CPU fp32 channels_last training is slower than NCHW (issue 16).
    """
    return torch.channels_last if precision == "bf16" and device.type == "cpu" else torch.contiguous_format
