"""S2VD on an NTURain synthetic sequence: PSNR-Y / SSIM-Y over every frame, frames 41-80, and frames
3..N-2 (the authors' test_NTURain_synthetic.py drops 2 at each end), plus seconds per frame against
the default single-image model's fast path (``Derainer()``) measured in the same process.

    DERAIN_WEIGHTS_DIR=../shared/weights python benchmarks/video/s2vd_nturain.py ROOT [--precision fp32|bf16]
        [--json out.json] [--save DIR] [--baseline-frames 3] [--first N] [--temporal 0]

ROOT holds ``input/`` and ``target/``, each with the frames (*.jpg / *.png, same names) either directly
or in one sequence folder (``input/a1/00001.jpg``). The sequence streams through the same processor
``derain video`` uses (``make_processor``), frame by frame; ``--temporal 0`` (the default here): the
model alone, without the temporal stage (``--temporal R``: with it, radius R).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

from derain_cli.derainer import Derainer
from derain_cli.imageio import read_rgb8
from derain_cli.metrics import psnr_y, ssim_y
from derain_cli.video.processors import make_processor

SUFFIXES = (".jpg", ".jpeg", ".png")


def frame_files(folder: Path) -> list[Path]:
    """The frames of ``folder`` (or of its single sub-folder), sorted by name."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    subfolders = [p for p in folder.iterdir() if p.is_dir()]
    if not files and len(subfolders) == 1:
        return frame_files(subfolders[0])
    if not files:
        sys.exit(f"{folder}: no frames")
    return files


def mean_scores(psnrs: list[float], ssims: list[float], first: int, last: int) -> dict[str, float]:
    """Means over frames ``first``..``last`` (1-based, inclusive)."""
    return {"frames": f"{first}-{last}", "psnr": float(np.mean(psnrs[first - 1 : last])), "ssim": float(np.mean(ssims[first - 1 : last]))}


def seconds_per_frame(derainer: Derainer, frames: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for frame in frames:
        derainer(frame)
    return (time.perf_counter() - start) / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--model", default="s2vd-nturain")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--save", type=Path, help="write the derained frames here (PNG, the input's names)")
    parser.add_argument("--baseline-frames", type=int, default=3, help="frames the default model derains before and after (0: no speed ratio)")
    parser.add_argument("--temporal", type=int, default=0, help="temporal stage radius (0: the model alone)")
    parser.add_argument("--first", type=int, help="only the first N frames, as a sequence of their own (a quicker check)")
    args = parser.parse_args()

    rainy_files = frame_files(args.root / "input")[: args.first]
    clean_files = [frame_files(args.root / "target")[0].parent / p.name for p in rainy_files]
    derainer = Derainer(args.model, precision=args.precision)
    baseline = Derainer() if args.baseline_frames else None
    probe = [read_rgb8(p) for p in rainy_files[: args.baseline_frames]]
    base_seconds = [seconds_per_frame(baseline, probe)] if baseline else []

    processor = make_processor(derainer, temporal=args.temporal)
    derained: list[np.ndarray] = []
    start = time.perf_counter()
    for path in rainy_files:
        derained += processor.push(read_rgb8(path))
    derained += processor.finish()
    seconds = (time.perf_counter() - start) / len(rainy_files)
    if baseline:
        base_seconds.append(seconds_per_frame(baseline, probe))

    psnrs, ssims, rainy_psnrs, rainy_ssims = [], [], [], []
    for k, (path, out) in enumerate(zip(clean_files, derained)):
        clean, rainy = read_rgb8(path), read_rgb8(rainy_files[k])
        psnrs.append(psnr_y(out, clean))
        ssims.append(ssim_y(out, clean))
        rainy_psnrs.append(psnr_y(rainy, clean))
        rainy_ssims.append(ssim_y(rainy, clean))
        if args.save:
            from PIL import Image

            args.save.mkdir(parents=True, exist_ok=True)
            Image.fromarray(out).save(args.save / f"{path.stem}.png")
    n = len(derained)
    spans = [(1, n), (3, n - 2)] + ([(41, 80)] if n >= 80 else [])
    result = {
        "model": args.model,
        "precision": str(derainer.dtype).removeprefix("torch."),
        "temporal": args.temporal,
        "frames": n,
        "size": f"{derained[0].shape[1]}x{derained[0].shape[0]}",
        "derained": [mean_scores(psnrs, ssims, a, b) for a, b in spans],
        "rainy": [mean_scores(rainy_psnrs, rainy_ssims, a, b) for a, b in spans],
        "seconds_per_frame": seconds,
        "baseline_seconds_per_frame": float(np.mean(base_seconds)) if base_seconds else None,
        "ratio_to_baseline": seconds / float(np.mean(base_seconds)) if base_seconds else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": f"{platform.processor() or platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs",
        "per_frame_psnr": psnrs,
        "per_frame_ssim": ssims,
    }
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text)
    summary = {k: v for k, v in result.items() if not k.startswith("per_frame")}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
