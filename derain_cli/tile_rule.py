"""The one rule for ``--tile`` (apart from the tiling itself, so the command line checks it without torch)."""

from __future__ import annotations

from derain_cli.errors import UsageError

# Smallest tile (or band side) accepted: below it the shared overlap would be as large as the tile.
MIN_TILE = 32


def check_tile(tile: int | None) -> None:
    """The one rule for ``--tile``: None (automatic), 0 (never tile) or at least :data:`MIN_TILE` pixels."""
    if tile is not None and tile != 0 and tile < MIN_TILE:
        raise UsageError(f"--tile must be 0 (never tile) or at least {MIN_TILE} pixels, got {tile}")
