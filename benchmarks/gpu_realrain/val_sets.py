"""The validation sets the GPU fine-tunes were chosen on (never a test set): Urban100's every 8th photo,
held out of training by pack.sh (13 photos), rain-free and under four kinds of rain:

    clean/      the photos (the do-no-harm check: outputs are scored against them)
    mix/ heavy/ storm/   `derain synth` presets, seeds 11, 12, 13
    layered/    6 RainTrainL rain layers over a 320 x 320 centre crop (heavy rain as `layers=6` trains it)

    python -m benchmarks.gpu_realrain.val_sets /work/data/val_urban
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


def main(out: Path) -> None:
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


if __name__ == "__main__":
    main(Path(sys.argv[1]))
