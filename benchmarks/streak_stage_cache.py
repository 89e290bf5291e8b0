"""Run checkpoints once over image folders and keep their outputs, so output stages can be fitted offline.

    python benchmarks/streak_stage_cache.py PRECISION OUT MODEL[,MODEL...] SET=FOLDER[:STEP]...

Writes OUT/MODEL/SET/NAME.png (uint8, as `derain eval --save-outputs` would); existing files are kept,
so an interrupted run resumes. ``:STEP`` takes every STEP-th image in natural order. PRECISION: fp32
(the papers' arithmetic, for measurements) or bf16 (fitting data only), on the CPU.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2

from derain_cli import Derainer
from derain_cli.imageio import read_rgb8
from derain_cli.pairs import image_files, natural_key


def selected(spec: str) -> tuple[str, list[Path]]:
    """``SET=FOLDER[:STEP]`` -> (SET, the images)."""
    name, _, folder = spec.partition("=")
    folder, _, step = folder.partition(":")
    files = sorted(image_files(Path(folder)), key=lambda p: natural_key(p.name))
    return name, files[:: int(step or 1)]


def main() -> None:
    precision, out, models, specs = sys.argv[1], Path(sys.argv[2]), sys.argv[3].split(","), sys.argv[4:]
    sets = [selected(spec) for spec in specs]
    for model in models:
        derainer = Derainer(model=model, device="cpu", precision=precision)
        for name, files in sets:
            start, done = time.perf_counter(), 0
            for path in files:
                target = out / model / name / f"{path.stem}.png"
                if target.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                result = derainer(read_rgb8(path))
                cv2.imwrite(str(target.with_suffix(".tmp.png")), cv2.cvtColor(result, cv2.COLOR_RGB2BGR))
                target.with_suffix(".tmp.png").rename(target)
                done += 1
            print(f"{model} {name}: {done} images in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
