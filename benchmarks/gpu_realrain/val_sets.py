"""The validation sets the GPU fine-tunes were chosen on (never a test set): Urban100's every 8th photo,
held out of training by pack.sh (13 photos), rain-free and under four kinds of rain:

    clean/      the photos (the do-no-harm check: outputs are scored against them)
    mix/ heavy/ storm/   `derain synth` presets, seeds 11, 12, 13
    layered/    6 RainTrainL rain layers over a 320 x 320 centre crop (heavy rain as `layers=6` trains it)

and, given a fetched copy of simonsLiang/PReNet_paddle (a git directory, from 2026-12-04 on), Rain100H's
kind of rain from its own training set:

    rth/        12 RainTrainH training pairs (481 x 321; simonsLiang/PReNet_paddle @ 1c9cd98 :
                RainTrainH_min/{rain,norain}-N.png, N = 2-9, 11-14). Not Rain100H test images: their clean
                backgrounds match none of rain100h/target nor rain100l_train/target (grey 24 x 16 signatures,
                correlation at most 0.79). It ranks six SAPNet checkpoints in Rain100H's order but for one
                close pair (docs/real-rain.md).

    python -m benchmarks.gpu_realrain.val_sets /work/data/val_urban [GIT_DIR_OF_PRENET_PADDLE]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import SHARED
from derain_cli.imageio import read_rgb8, write_rgb8
from derain_cli.pairs import find_pairs, natural_key
from derain_cli.train.layered import layered

PRESETS = {"mix": 11, "heavy": 12, "storm": 13}
CROP = 320
RAINTRAINH = ("1c9cd981f533d658f0a58355b1a8c839f86b7723", "RainTrainH_min", [*range(2, 10), *range(11, 15)])


def raintrainh(git_dir: Path, out: Path) -> None:
    """rth/input/N.png and rth/target/N.png from the pinned commit of a PReNet_paddle git directory."""
    commit, folder, numbers = RAINTRAINH
    for side, prefix in (("input", "rain"), ("target", "norain")):
        (out / side).mkdir(parents=True, exist_ok=True)
        for number in numbers:
            blob = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{commit}:{folder}/{prefix}-{number}.png"],
                                  check=True, capture_output=True).stdout  # fmt: skip
            (out / side / f"{number}.png").write_bytes(blob)


def main(out: Path, prenet_paddle: Path | None = None) -> None:
    photos = sorted((SHARED / "data/clean/urban100").glob("*.png"), key=lambda p: natural_key(p.name))[::8]
    (out / "clean").mkdir(parents=True, exist_ok=True)
    for photo in photos:
        link = out / "clean" / photo.name
        if not link.exists():
            link.symlink_to(photo.resolve())
    for name, seed in PRESETS.items():
        if not (out / name).exists():
            subprocess.run([sys.executable, "-m", "derain_cli", "synth", str(out / "clean"), "-o", str(out / name),
                            "--preset", name, "--seed", str(seed), "-q"], check=True)  # fmt: skip
    pairs = find_pairs(SHARED / "data/rain100l_train").pairs
    for side in ("input", "target"):
        (out / "layered" / side).mkdir(parents=True, exist_ok=True)
    for number, photo in enumerate(photos):
        clean = read_rgb8(photo)
        top, left = (clean.shape[0] - CROP) // 2, (clean.shape[1] - CROP) // 2
        crop = clean[top : top + CROP, left : left + CROP]
        rng = np.random.default_rng([2026, number])
        # layered() puts rain over a pair's own clean crop; here the clean is the held-out photo's.
        rainy, background = layered(pairs, int(rng.integers(len(pairs))), 6, CROP, rng)
        rain = rainy.astype(np.int16) - background
        write_rgb8(out / "layered/input" / f"{photo.stem}.png", np.clip(crop + rain, 0, 255).astype(np.uint8))
        write_rgb8(out / "layered/target" / f"{photo.stem}.png", crop)
    if prenet_paddle:
        raintrainh(prenet_paddle, out / "rth")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
