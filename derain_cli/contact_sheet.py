"""Contact sheets: image tiles in a grid, for previews a person can look at."""

from __future__ import annotations

import cv2
import numpy as np

PREVIEW_WIDTH = 320


def contact_sheet(rows: list[list[np.ndarray]], width: int = PREVIEW_WIDTH, gap: int = 4) -> np.ndarray:
    """uint8 tiles in a grid, each resized to ``width`` px wide, on white with ``gap`` px between."""
    def fit(tile: np.ndarray) -> np.ndarray:
        height = max(1, round(tile.shape[0] * width / tile.shape[1]))
        return cv2.resize(tile, (width, height), interpolation=cv2.INTER_AREA)

    resized = [[fit(tile) for tile in row] for row in rows]
    heights = [max(t.shape[0] for t in row) for row in resized]
    columns = max(len(row) for row in resized)
    sheet = np.full((sum(heights) + gap * (len(rows) + 1), columns * width + gap * (columns + 1), 3), 255, np.uint8)
    top = gap
    for row, height in zip(resized, heights):
        for k, tile in enumerate(row):
            left = gap + k * (width + gap)
            sheet[top : top + tile.shape[0], left : left + width] = tile
        top += height + gap
    return sheet
