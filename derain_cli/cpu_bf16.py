"""Whether this CPU computes bf16 natively (fast), as opposed to emulating it in fp32 units."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch

# CPU flags (Linux /proc/cpuinfo) of instructions that multiply bf16 pairs into fp32 in hardware
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@cache
def cpu_flags() -> frozenset[str]:
    """The feature flags of the first CPU in /proc/cpuinfo (empty off Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def runs_bf16_fast() -> bool:
    """True when oneDNN has bf16 kernels here and the CPU has bf16 dot-product instructions.

    Without ``avx512_bf16`` / ``amx_bf16``, oneDNN converts bf16 to fp32 and computes in fp32:
    no faster than fp32, and less accurate. Measured on an AMD EPYC with avx512_bf16 (no AMX):
    bf16 channels_last 3x3 convolutions about 2x fp32 (benchmarks/RESULTS.md, issue 16).
    """
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported() and bool(
        NATIVE_BF16_FLAGS & cpu_flags()
    )
