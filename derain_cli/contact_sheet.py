"""Contact sheets: image tiles in a grid, for previews a person can look at."""

from __future__ import annotations

import cv2
import numpy as np

PREVIEW_WIDTH = 320
_FONT, _FONT_SCALE, _LABEL_HEIGHT = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 22


def contact_sheet(
    rows: list[list[np.ndarray]], width: int = PREVIEW_WIDTH, gap: int = 4, labels: list[str] | None = None
) -> np.ndarray:
    """uint8 tiles in a grid, each resized to ``width`` px wide, on white with ``gap`` px between;
    ``labels``: a caption above each column (what the column shows, so a sheet reads without its file name)."""
    def fit(tile: np.ndarray) -> np.ndarray:
        height = max(1, round(tile.shape[0] * width / tile.shape[1]))
        return cv2.resize(tile, (width, height), interpolation=cv2.INTER_AREA)

    resized = [[fit(tile) for tile in row] for row in rows]
    heights = [max(t.shape[0] for t in row) for row in resized]
    columns = max(len(row) for row in resized)
    header = _LABEL_HEIGHT if labels else 0
    sheet = np.full((header + sum(heights) + gap * (len(rows) + 1), columns * width + gap * (columns + 1), 3), 255, np.uint8)
    for k, label in enumerate(labels or []):
        cv2.putText(sheet, label, (gap + k * (width + gap), header - 4), _FONT, _FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
    top = header + gap
    for row, height in zip(resized, heights):
        for k, tile in enumerate(row):
            left = gap + k * (width + gap)
            sheet[top : top + tile.shape[0], left : left + width] = tile
        top += height + gap
    return sheet
