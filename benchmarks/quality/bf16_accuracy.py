"""bf16 against fp32 on Rain100H: PSNR-Y / SSIM-Y of the CPU fast path in each precision, per model.

Resumable: one JSON line per (model, pair) is appended to ``--log``; pairs already there are
skipped, so several processes can share the work with ``--part K/N`` (pairs K, K + N, ...).
Pairs run model by model within each pair, so a partial log covers every model alike.

    python -m benchmarks.quality.bf16_accuracy --part 1/2 --log bf16.jsonl &
    python -m benchmarks.quality.bf16_accuracy --part 2/2 --log bf16.jsonl &
    python -m benchmarks.quality.bf16_accuracy --summary --log bf16.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import SHARED
from derain_cli import Derainer
from derain_cli.imageio import read_rgb8
from derain_cli.metrics import psnr_y, ssim_y

MODELS = {
    "sapnet": "sapnet_rain100h_authors.pth",
    "prenet": "prenet_rain100h_authors.pth",
    "prenet-real": "prenet_real_authors.pth",
}


def done(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.is_file() else []


def measure(args: argparse.Namespace) -> None:
    part, parts = (int(v) for v in args.part.split("/"))
    seen = {(r["model"], r["pair"]) for r in done(args.log)}
    derainers = {
        model: {p: Derainer(model, weights=SHARED / "weights" / MODELS[model], device="cpu", precision=p) for p in ("fp32", "bf16")}
        for model in args.models.split(",")
    }
    for pair in range(part, args.pairs + 1, parts):
        rainy = read_rgb8(args.data / "input" / f"{pair}.png")
        clean = read_rgb8(args.data / "target" / f"{pair}.png")
        for model, by_precision in derainers.items():
            if (model, pair) in seen:
                continue
            outputs = {p: d(rainy) for p, d in by_precision.items()}
            record = {"model": model, "pair": pair,
                      "max_diff": int(np.abs(outputs["fp32"].astype(int) - outputs["bf16"].astype(int)).max())}
            for p, out in outputs.items():
                record[f"psnr_{p}"], record[f"ssim_{p}"] = psnr_y(out, clean), ssim_y(out, clean)
            with args.log.open("a") as handle:
                handle.write(json.dumps(record) + "\n")


def summary(log: Path) -> None:
    records = done(log)
    print("| model | pairs | PSNR-Y fp32 | PSNR-Y bf16 | bf16 - fp32 (dB) | worst pair (dB) | SSIM-Y fp32 / bf16 | max grey-level diff |")
    print("|---|---|---|---|---|---|---|---|")
    for model in MODELS:
        rows = [r for r in records if r["model"] == model]
        if not rows:
            continue
        delta = np.array([r["psnr_bf16"] - r["psnr_fp32"] for r in rows])
        mean = {k: np.mean([r[k] for r in rows]) for k in ("psnr_fp32", "psnr_bf16", "ssim_fp32", "ssim_bf16")}
        print(f"| {model} | {len(rows)} | {mean['psnr_fp32']:.3f} | {mean['psnr_bf16']:.3f} | {delta.mean():+.4f} | "
              f"{delta.min():+.3f} | {mean['ssim_fp32']:.4f} / {mean['ssim_bf16']:.4f} | {max(r['max_diff'] for r in rows)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "data/rain100h")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--part", default="1/1", help="K/N: pairs K, K + N, K + 2N, ...")
    parser.add_argument("--log", type=Path, default=Path("bf16_accuracy.jsonl"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--summary", action="store_true", help="print the table of the log and stop")
    args = parser.parse_args()
    if args.summary:
        summary(args.log)
        return
    torch.set_num_threads(args.threads)
    measure(args)


if __name__ == "__main__":
    main()
