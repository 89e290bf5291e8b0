"""`derain image --ray --workers 2` against the local path on the same images (issue 19).

Writes N seeded noise images of WxH, then times (wall clock, whole command) local and Ray runs with
N and with a few images: the difference between the two runs of each gives its steady rate once the
model (and Ray's workers) are up; Ray's own start-up (ray.init) is read from its summary line.

    python -m benchmarks.scaling.ray_throughput --weights ../shared/weights/sapnet_rain100h_authors.pth
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_images(folder: Path, count: int, width: int, height: int) -> Path:
    folder.mkdir(parents=True)
    for k in range(count):
        pixels = np.random.default_rng(k).integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"im{k:03d}.png")
    return folder


def timed(args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "derain_cli", *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return seconds, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--few", type=int, default=8)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    width, height = map(int, options.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        many = make_images(root / "many", options.count, width, height)
        few = make_images(root / "few", options.few, width, height)
        common = ["--weights", options.weights, "--device", "cpu"]
        local, _ = timed(["image", str(many), "-o", str(root / "local"), *common, "-q"])
        local_few, _ = timed(["image", str(few), "-o", str(root / "local_few"), *common, "-q"])
        ray_args = [*common, "--ray", "--workers", str(options.workers)]
        ray_many, log = timed(["image", str(many), "-o", str(root / "ray"), *ray_args])
        ray_few, _ = timed(["image", str(few), "-o", str(root / "ray_few"), *ray_args])
        startup = float(re.search(r"after ([\d.]+) s of Ray start-up", log).group(1))
        identical = all((root / "local" / p.name).read_bytes() == p.read_bytes() for p in (root / "ray").iterdir())
    steady = (options.count - options.few) / (ray_many - ray_few)
    local_steady = (options.count - options.few) / (local - local_few)
    print(f"{options.count} images of {width}x{height}, {options.workers} Ray workers; outputs identical: {identical}")
    print(f"local: {local:.1f} s, {options.count / local:.2f} images/s (whole command)")
    print(f"local with {options.few} images: {local_few:.1f} s -> steady rate {local_steady:.2f} images/s, fixed cost "
          f"{local - options.count / local_steady:.1f} s")
    print(f"ray:   {ray_many:.1f} s, {options.count / ray_many:.2f} images/s (whole command); time ray / local {ray_many / local:.2f}")
    print(f"ray with {options.few} images: {ray_few:.1f} s -> steady rate {steady:.2f} images/s, fixed cost "
          f"{ray_many - options.count / steady:.1f} s (of which ray.init {startup:.1f} s)")


if __name__ == "__main__":
    main()
