"""Tiled inference with overlapping, feathered tiles so large images fit in a memory budget.

Tiles all have the same size (the last row and column are shifted inwards), so they can be
batched. Overlaps are blended with linear ramps that skip each tile's outermost pixels, which
hides seams. Tiles remain an approximation for networks with global statistics (SAPNet's
attention averages over the whole input), which is why the CPU fast path of the recurrent
family prefers exact row bands (``derain_cli.fast.onednn``) and tiles only beyond the budget.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from derain_cli.errors import UsageError

Forward = Callable[[Tensor], Tensor]

# Smallest tile (or band side) accepted: below it the shared overlap would be as large as the tile.
MIN_TILE = 32


def check_tile(tile: int | None) -> None:
    """The one rule for ``--tile``: None (automatic), 0 (never tile) or at least :data:`MIN_TILE` pixels."""
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, (int, np.integer))):
        raise TypeError(f"tile must be None or a whole number of pixels, got {type(tile).__name__} {tile!r}")
    if tile is not None and tile != 0 and tile < MIN_TILE:
        raise UsageError(f"--tile must be 0 (never tile) or at least {MIN_TILE} pixels, got {tile}")


def tile_overlap(tile: int) -> int:
    """Pixels shared by neighbouring tiles of side ``tile`` (a quarter, at least 16; half a :data:`MIN_TILE` tile)."""
    return max(16, tile // 4)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length`` with at least ``overlap`` shared."""
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def _ramp(length: int, overlap: int, fade_in: bool, fade_out: bool) -> Tensor:
    """1-D blending weights: 1 inside, fading linearly to 0 across the shared ``overlap`` pixels.

    The outermost quarter of the overlap gets weight 0: there a tile's output is spoiled by its
    own zero padding, and the neighbouring tile, still inside its own fade, covers it.
    """
    w = torch.ones(length)
    margin = overlap // 4
    width = overlap - margin
    if width > 0:
        ramp = torch.cat((torch.zeros(margin), (torch.arange(width, dtype=torch.float32) + 1) / (width + 1)))
        if fade_in:
            w[:overlap] = torch.minimum(w[:overlap], ramp)
        if fade_out:
            w[-overlap:] = torch.minimum(w[-overlap:], ramp.flip(0))
    return w


def tiled_forward(
    forward: Forward, x: Tensor, tile: int, overlap: int, batch_size: int = 1
) -> Tensor:
    """Apply ``forward`` (N x C x h x w -> N x C' x h x w) to ``x`` (1 x C x H x W) tile by tile."""
    _, _, height, width = x.shape
    tile_h, tile_w = min(tile, height), min(tile, width)
    ys = tile_starts(height, tile_h, overlap)
    xs = tile_starts(width, tile_w, overlap)
    boxes = [(y, x0) for y in ys for x0 in xs]
    out: Tensor | None = None
    weight = torch.zeros(1, 1, height, width, device=x.device)
    for first in range(0, len(boxes), batch_size):
        chunk = boxes[first : first + batch_size]
        batch = torch.cat([x[:, :, y : y + tile_h, x0 : x0 + tile_w] for y, x0 in chunk])
        result = forward(batch)
        if out is None:
            out = torch.zeros(1, result.shape[1], height, width, device=x.device, dtype=torch.float32)
        for k, (y, x0) in enumerate(chunk):
            wy = _ramp(tile_h, overlap, y > 0, y + tile_h < height)
            wx = _ramp(tile_w, overlap, x0 > 0, x0 + tile_w < width)
            w = (wy[:, None] * wx[None, :]).to(x.device)
            out[:, :, y : y + tile_h, x0 : x0 + tile_w] += result[k : k + 1].float() * w
            weight[:, :, y : y + tile_h, x0 : x0 + tile_w] += w
    assert out is not None
    return out / weight
