"""Contact sheet of `derain synth`: clean | each preset, on two scenes, above crops of real rain.

Every tile is a 256 x 192 crop of a frame first scaled to 480 px on its short side (the renderer's
reference size), so streak sizes compare like for like. Row 1: a GT-RAIN clean target
(../shared/data/gtrain_dev) and the presets rendered on it; row 2: the same on an Urban100 clean photo
(../shared/data/clean/urban100); row 3: real rainy crops (gtrain_dev inputs, then ../shared/data/real).

    python -m benchmarks.synth.synth_contact_sheet [-o benchmarks/synth/synth_presets.png] [--seed 1]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks.common import SHARED
from benchmarks.synth.synth_realism import at_side
from derain_cli.imageio import read_rgb8
from derain_cli.synth import PRESETS, render_rain

DATA = SHARED / "data"
TILE = (256, 192)
LABEL = 22


def _crop(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    top, left = (height - TILE[1]) // 2, (width - TILE[0]) // 2
    return image[top : top + TILE[1], left : left + TILE[0]]


def _labelled(tile: np.ndarray, text: str) -> np.ndarray:
    band = np.full((LABEL, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(band, text, (6, LABEL - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, tile], axis=0)


def preset_row(clean_path: Path, seed: int, name: str) -> list[np.ndarray]:
    clean = at_side(read_rgb8(clean_path))
    tiles = [_labelled(_crop(clean), f"clean ({name})")]
    for preset in PRESETS:
        rainy, params = render_rain(clean, preset=preset, seed=seed)
        tiles.append(_labelled(_crop(rainy), f"{preset} (veil {params.veil:.2f}, dens {params.density:.0f})"))
    return tiles


def real_row(count: int) -> list[np.ndarray]:
    first: dict[str, Path] = {}
    for path in sorted((DATA / "gtrain_dev" / "input").glob("*.png")):
        first.setdefault(path.stem.rsplit("_", 1)[0], path)  # one frame per scene
    gtrain = list(first.values())
    real = [DATA / "real" / f"{n}.png" for n in (1, 2, 3, 4, 5, 6)]
    paths = (gtrain + [p for p in real if p.exists()])[:count]
    return [_labelled(_crop(at_side(read_rgb8(p))), f"real: {p.parent.parent.name if p.parent.name == 'input' else 'real'}/{p.stem}") for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).resolve().parent / "synth_presets.png")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rows = [
        preset_row(DATA / "gtrain_dev" / "target" / "Deadwood_0-0_000.png", args.seed, "GT-RAIN Deadwood"),
        preset_row(sorted((DATA / "clean" / "urban100").glob("*.png"))[4], args.seed + 1, "Urban100"),
    ]
    rows.append(real_row(len(rows[0])))
    sheet = np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)
    Image.fromarray(sheet).save(args.output, optimize=True)
    print(f"{args.output}: {sheet.shape[1]}x{sheet.shape[0]}, {args.output.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
