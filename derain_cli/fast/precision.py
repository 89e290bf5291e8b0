"""The ``precision`` option: which floating-point type inference computes in."""

from __future__ import annotations

import torch

from derain_cli import cpu_bf16
from derain_cli.errors import UsageError

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_precision(name: str, device: torch.device, bf16_served: bool = False) -> torch.dtype:
    """``auto`` = fp16 on CUDA; on the CPU bf16 when the network has a bf16 fast path measured within
    the accuracy bound (``bf16_served``) and this CPU computes bf16 natively, else fp32.

    fp16 needs CUDA; bf16 needs CUDA support or any CPU (emulated, slow, without native bf16).
    """
    key = name.strip().lower()
    if key == "int8":
        raise UsageError(
            "precision int8 is not offered: simulated int8 loses 0.09 dB (SAPNet) and 0.18 dB (PReNet) "
            "of PSNR on Rain100H, over the 0.05 dB allowed (benchmarks/RESULTS.md); use fp32 on the CPU"
        )
    if key == "auto" and device.type == "cuda":
        return torch.float16
    if key == "auto":
        return torch.bfloat16 if bf16_served and cpu_bf16.runs_bf16_fast() else torch.float32
    if key not in _DTYPES:
        raise UsageError(f"unknown precision {name!r}; use {', '.join(PRECISIONS)}")
    dtype = _DTYPES[key]
    if dtype == torch.float16 and device.type != "cuda":
        raise UsageError("precision fp16 needs a CUDA device; on the CPU use fp32 (or bf16)")
    if dtype == torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UsageError(f"precision bf16 is not supported by {torch.cuda.get_device_name(device)}; use fp16")
    return dtype


def precision_name(dtype: torch.dtype) -> str:
    """The ``--precision`` name of a resolved dtype (``fp32``, ``fp16`` or ``bf16``)."""
    return next(name for name, known in _DTYPES.items() if known == dtype)
