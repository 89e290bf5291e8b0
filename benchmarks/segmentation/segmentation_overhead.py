"""Time the segmentation chain against deraining alone, on the same images in the same process.

Without network the real SegFormer weights cannot be downloaded; ``--standin`` builds a SegFormer-B0
with random weights (the architecture and 1024 x 1024 input of the default model, so the same
compute) in a temporary folder. Usage:

    python -m benchmarks.segmentation.segmentation_overhead --standin --images 5
    python -m benchmarks.segmentation.segmentation_overhead --seg-model nvidia/segformer-b0-finetuned-cityscapes-1024-1024
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import SHARED
from derain_cli.derainer import Derainer
from derain_cli.imageio import read_image
from derain_cli.segment import CITYSCAPES_CLASSES, Segmenter



def standin_b0(folder: Path) -> str:
    """SegFormer-B0 (transformers' default config) with random weights, Cityscapes labels, 1024 x 1024 input."""
    import transformers

    labels = dict(enumerate(CITYSCAPES_CLASSES))
    config = transformers.SegformerConfig(num_labels=19, id2label=labels, label2id={n: i for i, n in labels.items()})
    transformers.SegformerForSemanticSegmentation(config).save_pretrained(folder)
    transformers.SegformerImageProcessor(size={"height": 1024, "width": 1024}).save_pretrained(folder)
    return str(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "rain100h" / "input")
    parser.add_argument("--weights", type=Path, default=SHARED / "weights" / "sapnet_rain100h_authors.pth")
    parser.add_argument("--seg-model", default=None)
    parser.add_argument("--standin", action="store_true", help="use a random-weight SegFormer-B0 (no network)")
    parser.add_argument("--images", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seg_model = standin_b0(Path(tmp)) if args.standin else args.seg_model
        derainer = Derainer("sapnet", args.weights, device="cpu")
        segmenter = Segmenter(seg_model, device="cpu")
        files = sorted(args.data.iterdir())[: args.images]
        derain_s, segment_s = [], []
        segmenter.predict(derainer(np.zeros((64, 64, 3), np.uint8)))  # warm-up
        for path in files:
            rgb = np.rint(read_image(path).rgb * 255).astype(np.uint8)
            start = time.perf_counter()
            derained = derainer(rgb)
            middle = time.perf_counter()
            segmenter.predict(derained)
            derain_s.append(middle - start)
            segment_s.append(time.perf_counter() - middle)
    derain, segment = statistics.median(derain_s), statistics.median(segment_s)
    print(f"images: {len(files)} from {args.data} ({rgb.shape[1]}x{rgb.shape[0]} last)")
    print(f"derain (sapnet, cpu): median {derain:.3f} s/image")
    print(f"segment ({'stand-in SegFormer-B0' if args.standin else segmenter.name}): median {segment:.3f} s/image")
    print(f"derain + segment / derain: {(derain + segment) / derain:.2f}x")


if __name__ == "__main__":
    main()
