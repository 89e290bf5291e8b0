"""mIoU of a segmentation model on a labelled folder, as segmentation papers report it (one confusion
matrix over all frames; the void class left out), plus the mean of per-image mIoU and each class's IoU.

    python -m benchmarks.segmentation.segmentation_accuracy --images ../shared/data/camvid_val/images \
        --labels ../shared/data/camvid_val/labels --seg-model espnet-camvid
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from derain_cli.imageio import read_rgb8
from derain_cli.segment import Segmenter, miou_from_confusion
from derain_cli.segment.downstream import label_path, read_label_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--seg-model", default="espnet-camvid")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    segmenter = Segmenter(args.seg_model, device=args.device)
    k = segmenter.num_classes
    total = np.zeros((k, k), np.int64)
    per_image = []
    images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".png", ".jpg"))
    for path in images:
        matrix = segmenter.confusion(segmenter.predict(read_rgb8(path)), read_label_mask(label_path(args.labels, path.stem)))
        total += matrix
        per_image.append(miou_from_confusion(matrix, segmenter.void))
    hits = np.diag(total)
    result = {
        "seg_model": segmenter.name,
        "frames": len(images),
        "miou": round(100 * miou_from_confusion(total, segmenter.void), 2),
        "miou_per_image": round(100 * float(np.mean(per_image)), 2),
        "pixel_accuracy": round(100 * float(hits.sum() / total.sum()), 2),
        "iou": {name: round(100 * v, 1) for name, v in segmenter.class_iou(total).items()},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
