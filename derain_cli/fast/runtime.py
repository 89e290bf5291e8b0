"""Process-level settings for CPU inference: the allocator and the thread count."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from functools import cache

import torch

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
SMALL_WORKING_SET = 384 << 20  # up to about 0.7 megapixels for the CPU fast path
_MODES = {  # (mmap threshold, trim threshold) in bytes
    "reuse": (1 << 30, 1 << 30),  # everything from the heap, kept for the next pass
    # full-resolution maps of large images on fresh pages, returned when freed (no heap growth);
    # band temporaries (up to 100 MB) from the heap, reused band after band without page faults
    "fresh": (100 << 20, 32 << 20),
}


@cache
def _mallopt():
    """glibc's ``mallopt`` and ``malloc_trim``, or None off glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return None


_mode = ""


def size_heap_for(working_set: int) -> str:
    """Tune glibc's allocator before a forward pass that keeps ``working_set`` bytes alive.

    Small passes ("reuse"): glibc's default gives blocks over 32 MB fresh pages, page-faulted
    and zeroed at every allocation (about 10% of a 480x320 SAPNet pass); serving them from the
    heap and keeping freed memory avoids that. Large passes ("fresh"): heap fragmentation would
    inflate the peak well beyond the live memory (3.7 GB instead of 1.7 GB at 1080p), so the
    full-resolution maps get fresh pages again while the band temporaries stay on the heap
    (1080p: 22 s instead of 34 s with every large block on fresh pages, 1.9 GB peak).
    Returns the mode applied ("" off glibc).
    """
    global _mode
    functions = _mallopt()
    if functions is None:
        return ""
    mallopt, malloc_trim = functions
    mode = "reuse" if working_set <= SMALL_WORKING_SET else "fresh"
    if mode != _mode:
        mmap_threshold, trim_threshold = _MODES[mode]
        mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
        mallopt(_M_TRIM_THRESHOLD, trim_threshold)
        if mode == "fresh":
            malloc_trim(0)
        _mode = mode
    return mode


def fit_threads() -> int:
    """Use no more intra-op threads than the CPUs this process may run on; returns the count.

    torch defaults to the machine's physical cores, which oversubscribes a process confined
    to fewer CPUs (a container, ``taskset``): its threads then wait for each other.
    """
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return torch.get_num_threads()
    if torch.get_num_threads() > allowed:
        torch.set_num_threads(allowed)
    return torch.get_num_threads()
