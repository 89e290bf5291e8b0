"""Downstream benchmark: what rain and deraining do to a driving-scene segmentation model, against real labels.

Stages (each resumable: existing files are kept):

    python -m benchmarks.segmentation.camvid_rain build  --out runs/camvid_rain             # input/ target/ labels/ from camvid_val
    python -m benchmarks.segmentation.camvid_rain derain --out runs/camvid_rain -m sapnet -m prenet -m prenet-real
    python -m benchmarks.segmentation.camvid_rain score  --out runs/camvid_rain --seg-model espnet-camvid

``build`` renders rain over the 101 clean CamVid validation frames with ``derain synth`` itself (the
preset and seed given; each frame's rendering seed derives from the seed and the frame name) and copies
the labels beside the pairs. ``derain`` writes each model's
outputs to ``OUT/derained/<model>/``. ``score`` segments the clean, rainy and derained frames and
prints, per row, PSNR/SSIM (Y), the data-set mIoU (one confusion matrix over all frames, the usual
definition), the mean of per-image mIoU (what ``derain eval --segment`` reports) and the IoU of the
road classes. Data never goes into the repository: use a folder under ``runs/`` or ``/tmp``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import SHARED
from derain_cli.imageio import LoadedImage, read_rgb8, write_image
from derain_cli.metrics import score as image_score
from derain_cli.segment import Segmenter, miou_from_confusion
from derain_cli.segment.downstream import read_label_mask

ROAD_CLASSES = ("Road", "Pedestrian", "Car", "SignSymbol", "Pole")


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, LoadedImage(rgb.astype(np.float32) / 255.0, None, 8, False))


def build(source: Path, out: Path, preset: str, seed: int, every: int = 1) -> None:
    """``derain synth`` over every ``every``-th frame of SOURCE/images (frames already rendered are
    kept), then the labels of those frames into OUT/labels/."""
    names = sorted(p.name for p in (source / "images").glob("*.png"))[::every]
    todo = [str(source / "images" / name) for name in names if not (out / "input" / name).exists()]
    if todo:
        command = [sys.executable, "-m", "derain_cli", "synth", *todo, "-o", str(out), "--preset", preset,
                   "--seed", str(seed), "--quiet"]  # fmt: skip
        subprocess.run(command, check=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    for name in names:
        (out / "labels" / name).write_bytes((source / "labels" / name).read_bytes())
    print(f"{out}: {len(names)} frames ({preset}, seed {seed})")


def _names(out: Path, every: int) -> list[str]:
    """The frames used: every ``every``-th in name order (1 = all)."""
    return sorted(p.name for p in (out / "input").glob("*.png"))[::every]


def derain(out: Path, models: list[str], device: str, every: int) -> None:
    """Each model's outputs in OUT/derained/<model>/, frame by frame across the models (so an
    interrupted run leaves every model with the same frames)."""
    from derain_cli.derainer import Derainer

    names = _names(out, every)
    derainers = {model: Derainer(model=model, device=device) for model in models}
    for k, name in enumerate(names):
        for model, derainer in derainers.items():
            target = out / "derained" / model / name
            if not target.exists():
                _write_rgb(target, derainer(read_rgb8(out / "input" / name)))
        print(f"{k + 1}/{len(names)} frames", flush=True)


def _rows(out: Path, names: list[str]) -> dict[str, Path]:
    """clean, rainy, and each model whose outputs cover ``names``."""
    rows = {"clean": out / "target", "rainy": out / "input"}
    for folder in sorted((out / "derained").glob("*")):
        if all((folder / name).exists() for name in names):
            rows[folder.name] = folder
        else:
            print(f"note: {folder.name} left out (not every frame is derained)")
    return rows


def score(out: Path, seg_model: str, device: str, every: int, as_json: Path | None, only: list[str]) -> None:
    """Score every row (or the rows in ``only``); one JSON line per row on stdout, then the table."""
    segmenter = Segmenter(seg_model, device=device)
    k = segmenter.num_classes
    names = _names(out, every)
    results = {}
    for label, folder in _rows(out, names).items():
        if only and label not in only:
            continue
        confusion = np.zeros((k, k), np.int64)
        per_image, scores = [], []
        for name in names:
            image = read_rgb8(folder / name)
            reference = read_label_mask(out / "labels" / name)
            matrix = segmenter.confusion(segmenter.predict(image), reference)
            confusion += matrix
            per_image.append(miou_from_confusion(matrix, segmenter.void))
            scores.append(image_score(image, read_rgb8(out / "target" / name)))
        iou = segmenter.class_iou(confusion)
        results[label] = {
            "n": len(names),
            "psnr": float(np.mean([s.psnr for s in scores])) if label != "clean" else None,
            "ssim": float(np.mean([s.ssim for s in scores])),
            "miou": miou_from_confusion(confusion, segmenter.void),
            "miou_per_image": float(np.mean(per_image)),
            "iou": iou,
        }
        print(label, json.dumps(results[label]), flush=True)
    if results:
        _print_table(results)
    if as_json:
        as_json.write_text(json.dumps({"seg_model": segmenter.name, "rows": results}, indent=2) + "\n")


def _print_table(results: dict[str, dict]) -> None:
    head = ["row", "PSNR (Y)", "SSIM (Y)", "mIoU", "mIoU per image", *ROAD_CLASSES]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for label, r in results.items():
        psnr = f"{r['psnr']:.2f}" if r["psnr"] is not None else "-"
        cells = [label, psnr, f"{r['ssim']:.4f}", f"{100 * r['miou']:.2f}", f"{100 * r['miou_per_image']:.2f}"]
        cells += [f"{100 * r['iou'][c]:.1f}" for c in ROAD_CLASSES]
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["build", "derain", "score"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--source", type=Path, default=SHARED / "data" / "camvid_val")
    parser.add_argument("--preset", default="heavy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-m", "--model", action="append", default=[])
    parser.add_argument("--seg-model", default="espnet-camvid")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--row", action="append", default=[], help="score only this row (clean, rainy or a model); repeatable")
    parser.add_argument("--every", type=int, default=1, help="use every N-th frame (name order); 1 = all")
    args = parser.parse_args()
    if args.stage == "build":
        build(args.source, args.out, args.preset, args.seed, args.every)
    elif args.stage == "derain":
        derain(args.out, args.model or ["sapnet", "prenet", "prenet-real"], args.device, args.every)
    else:
        score(args.out, args.seg_model, args.device, args.every, args.json, args.row)


if __name__ == "__main__":
    main()
