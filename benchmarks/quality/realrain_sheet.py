"""Before / after on real rain without ground truth: rainy | authors' SAPNet | the bundled default.

    python -m benchmarks.quality.realrain_sheet -o benchmarks/quality/realrain_before_after.jpg

Rows: real rainy photos (../shared/data/real) and frames of a real rainy video (nturain_rb2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from benchmarks.common import SHARED
from derain_cli import Derainer
from derain_cli.contact_sheet import contact_sheet
from derain_cli.imageio import read_rgb8

PHOTOS = ["data/real/13.png", "data/real/40.png", "data/real/55.png", "data/video/nturain_rb2/00001.jpg", "data/video/nturain_rb2/00030.jpg"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("benchmarks/quality/realrain_before_after.jpg"))
    args = parser.parse_args()
    models = [Derainer("sapnet", weights=SHARED / "weights/sapnet_rain100h_authors.pth", device="cpu"), Derainer(device="cpu")]
    rows = []
    for name in PHOTOS:
        rainy = read_rgb8(SHARED / name)
        rows.append([rainy, *(model(rainy) for model in models)])
    sheet = contact_sheet(rows, width=360)
    cv2.imwrite(str(args.output), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"{args.output}: columns rainy | sapnet (authors') | the bundled default; rows {', '.join(PHOTOS)}")


if __name__ == "__main__":
    main()
