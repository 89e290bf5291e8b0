"""A contact sheet of a few rainy-CamVid frames: the label mask, then clean, rainy and each derained version,
each blended with its segmentation (half size, JPEG, well under 1 MB).

    python -m benchmarks.segmentation.camvid_contact_sheet --out runs/camvid_rain --frames 0016E5_07959 0016E5_08063 \
        --seg-model espnet-camvid -o benchmarks/segmentation/camvid_rain_contact_sheet.jpg

``--out`` is the folder ``benchmarks/segmentation/camvid_rain.py`` builds (input/, target/, labels/, derained/<model>/).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from derain_cli.fsutil import atomic_output
from derain_cli.imageio import read_rgb8
from derain_cli.segment import Segmenter, mean_iou, overlay
from derain_cli.segment.downstream import read_label_mask

HEADER = 16


def _cell(rgb: np.ndarray, caption: str, scale: int) -> Image.Image:
    image = Image.fromarray(rgb).resize((rgb.shape[1] // scale, rgb.shape[0] // scale), Image.BILINEAR)
    cell = Image.new("RGB", (image.width, image.height + HEADER), "white")
    cell.paste(image, (0, HEADER))
    ImageDraw.Draw(cell).text((3, 2), caption, fill="black")
    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frames", nargs="+", required=True, help="frame names (without .png)")
    parser.add_argument("--models", nargs="+", default=["sapnet", "prenet", "prenet-real"])
    parser.add_argument("--seg-model", default="espnet-camvid")
    parser.add_argument("--scale", type=int, default=2, help="shrink factor of each cell")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    segmenter = Segmenter(args.seg_model, device="cpu")
    rows = []
    for frame in args.frames:
        truth = read_label_mask(args.out / "labels" / f"{frame}.png")
        clean = read_rgb8(args.out / "target" / f"{frame}.png")
        columns = [("labels", clean, truth)]
        columns += [("clean", clean, None), ("rainy", read_rgb8(args.out / "input" / f"{frame}.png"), None)]
        columns += [(m, read_rgb8(args.out / "derained" / m / f"{frame}.png"), None) for m in args.models]
        cells = []
        for label, rgb, given in columns:
            predicted = given if given is not None else segmenter.predict(rgb)
            shown = np.clip(predicted, 0, segmenter.num_classes - 1)
            caption = label if given is not None else f"{label}  mIoU {100 * mean_iou(predicted, truth, segmenter.num_classes, segmenter.void):.1f}"
            cells.append(_cell(overlay(rgb, shown.astype(np.uint8), segmenter.palette), f"{frame}  {caption}" if label == "labels" else caption, args.scale))
        rows.append(cells)
    width, height = sum(c.width for c in rows[0]), sum(r[0].height for r in rows)
    sheet = Image.new("RGB", (width, height), "white")
    for r, cells in enumerate(rows):
        x = 0
        for cell in cells:
            sheet.paste(cell, (x, r * cells[0].height))
            x += cell.width
    with atomic_output(args.output) as tmp:
        sheet.save(tmp, format="JPEG", quality=85)
    print(f"{args.output}: {width}x{height}, {args.output.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
