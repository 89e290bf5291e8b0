"""The one rule for ``--tile`` (apart from the tiling itself, so the command line checks it without torch)."""

from __future__ import annotations

from derain_cli.errors import UsageError

# Smallest tile (or band side) accepted: below it the shared overlap would be as large as the tile.
MIN_TILE = 32
# numpy's integer types, by name (numpy is not imported on the command line's path)
_NUMPY_INTS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}


def check_tile(tile: int | None) -> None:
    """The one rule for ``--tile``: None (automatic), 0 (never tile) or at least :data:`MIN_TILE` pixels."""
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) and type(tile).__name__ not in _NUMPY_INTS):
        raise TypeError(f"tile must be None or a whole number of pixels, got {type(tile).__name__} {tile!r}")
    if tile is not None and tile != 0 and tile < MIN_TILE:
        raise UsageError(f"--tile must be 0 (never tile) or at least {MIN_TILE} pixels, got {tile}")
