"""Before/after contact sheet of consecutive real rainy frames: input, frame by frame, temporal stage, for
the video default (an ensemble: its models' frames averaged, as `derain video` does) or ``--model``.

    python -m benchmarks.video.temporal_sheet FRAME_FOLDER OUT.jpg [--first 20 --frames 3 --crop X,Y,W,H]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from derain_cli.imageio import read_rgb8
from derain_cli.pairs import natural_key
from derain_cli.video.ensemble import load_video_derainer
from derain_cli.video.processors import make_processor, run_processor
from derain_cli.weights.registry import VIDEO_DEFAULT_MODEL

ROWS = ("rainy input", "frame by frame", "temporal stage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--first", type=int, default=20, help="first frame shown (from 1)")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--crop", default=None, help="X,Y,W,H of the region shown (default: the whole frame)")
    parser.add_argument("--model", default=VIDEO_DEFAULT_MODEL)
    args = parser.parse_args()
    paths = sorted((p for p in args.folder.iterdir() if p.is_file()), key=lambda p: natural_key(p.name))
    context = 12  # frames before and after the shown ones: the stage's neighbours and S2VD's clip
    start = max(0, args.first - 1 - context)
    frames = [read_rgb8(p) for p in paths[start : args.first - 1 + args.frames + context]]
    model = load_video_derainer(args.model)
    derained = run_processor(make_processor(model, temporal=0), frames)
    fused = run_processor(make_processor(model), frames)
    shown = slice(args.first - 1 - start, args.first - 1 - start + args.frames)
    labels = [f"{name} (frames {args.first}-{args.first + args.frames - 1})" for name in ROWS]
    compose(list(zip(labels, (images[shown] for images in (frames, derained, fused)))), args.crop).save(args.out, quality=88)


def compose(rows: list[tuple[str, list[np.ndarray]]], crop: str | None) -> Image.Image:
    """One labelled row of frames per (label, frames), each frame cut to ``crop`` ("X,Y,W,H"; None: whole)."""
    first = rows[0][1][0]
    x, y, w, h = (int(v) for v in crop.split(",")) if crop else (0, 0, first.shape[1], first.shape[0])
    label = 18
    sheet = Image.new("RGB", (w * len(rows[0][1]), len(rows) * (h + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (name, images) in enumerate(rows):
        draw.text((4, k * (h + label) + 3), name, fill="black")
        sheet.paste(Image.fromarray(np.concatenate([f[y : y + h, x : x + w] for f in images], axis=1)), (0, k * (h + label) + label))
    return sheet


if __name__ == "__main__":
    main()
