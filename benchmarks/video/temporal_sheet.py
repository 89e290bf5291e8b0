"""Before/after contact sheet of consecutive real rainy frames: input, frame by frame, temporal stage.

    python -m benchmarks.video.temporal_sheet FRAME_FOLDER OUT.jpg [--first 20 --frames 3 --crop X,Y,W,H]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from benchmarks.video.temporal_choice import Cached
from derain_cli.derainer import Derainer
from derain_cli.imageio import read_rgb8
from derain_cli.pairs import natural_key
from derain_cli.video.processors import PerFrame, run_processor
from derain_cli.video.temporal import RADIUS, TemporalFusion

ROWS = ("rainy input", "frame by frame", "temporal stage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--first", type=int, default=20, help="first frame shown (from 1)")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--crop", default=None, help="X,Y,W,H of the region shown (default: the whole frame)")
    args = parser.parse_args()
    paths = sorted((p for p in args.folder.iterdir() if p.is_file()), key=lambda p: natural_key(p.name))
    start = args.first - 1 - RADIUS  # the shown frames get their neighbours on both sides
    frames = [read_rgb8(p) for p in paths[start : start + args.frames + 2 * RADIUS]]
    derained = run_processor(PerFrame(Derainer()), frames)
    fused = run_processor(TemporalFusion(Cached(derained), RADIUS), frames)
    shown = slice(RADIUS, RADIUS + args.frames)
    x, y, w, h = (int(v) for v in args.crop.split(",")) if args.crop else (0, 0, frames[0].shape[1], frames[0].shape[0])
    rows = [np.concatenate([f[y : y + h, x : x + w] for f in images[shown]], axis=1) for images in (frames, derained, fused)]
    label = 18
    sheet = Image.new("RGB", (rows[0].shape[1], len(rows) * (h + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (name, row) in enumerate(zip(ROWS, rows)):
        draw.text((4, k * (h + label) + 3), f"{name} (frames {args.first}-{args.first + args.frames - 1})", fill="black")
        sheet.paste(Image.fromarray(row), (0, k * (h + label) + label))
    sheet.save(args.out, quality=88)


if __name__ == "__main__":
    main()
