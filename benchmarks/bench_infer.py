"""Fast inference against the plain forward pass: speed ratio, seconds per image, peak memory, CLI time.

    python benchmarks/bench_infer.py --weights ../shared/weights/sapnet_rain100h_authors.pth

In one process, on real Rain100H images (480 x 320) and on one of them resized to 1920 x 1080:
the plain forward pass (``RecurrentDerainNet.forward``, the papers' module structure, NCHW,
float32) against ``Derainer(model, weights, device="cpu")`` (the fast path, uint8 in and out,
conversions included). At 480 x 320 each runs once to warm up, then ``--repeats`` times with
the two alternating; the best time counts. At 1080p each runs once. Peak memory is the peak
resident set of a fresh process deraining one image, so it includes Python and torch
(``VmHWM``; ``ru_maxrss`` would include the parent's memory, inherited through exec). Last, ``derain image DIR -o OUT`` on a folder of 10 Rain100H images, timed end to end
(process start, model load, reading and writing included). With ``--uhd``, a 3840 x 2160
image derained automatically (tiles) and untiled, each in a fresh process. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from derain_cli import Derainer
from derain_cli.metrics import psnr_rgb
from derain_cli.tiling import tiled_forward

SHARED = Path(os.environ.get("DERAIN_SHARED", Path(__file__).resolve().parents[2] / "shared"))
FULL_HD = (1920, 1080)
UHD = (3840, 2160)


def load_rgb(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    return np.array(image.resize(size, Image.BICUBIC) if size else image)


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def plain_forward(network: torch.nn.Module, rgb: np.ndarray) -> np.ndarray:
    """The papers' forward pass on one uint8 image, rounded to uint8."""
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        y = network(x)[0]
    return np.rint(y.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def compare(derainer: Derainer, rgb: np.ndarray, repeats: int, warm_up: bool = True) -> dict[str, float]:
    """Best plain and fast times on one image (runs alternating) and the largest output difference."""
    if warm_up:
        plain_forward(derainer.network, rgb)
        derainer(rgb)
    plain, fast = [], []
    for _ in range(repeats):
        seconds, reference = timed(plain_forward, derainer.network, rgb)
        plain.append(seconds)
        seconds, output = timed(derainer, rgb)
        fast.append(seconds)
    diff = int(np.abs(reference.astype(int) - output.astype(int)).max())
    return {"plain": min(plain), "fast": min(fast), "diff": diff}


def run_fresh(model: str, weights: Path, image: Path, threads: int, plain: bool = False,
              tile: int | None = None, output: Path | None = None) -> tuple[float, float]:
    """Derain ``image`` in a fresh process (plain pass or ``Derainer``); returns (peak memory GB, seconds)."""
    script = textwrap.dedent(
        f"""
        import time, numpy as np, torch
        from PIL import Image
        from derain_cli import Derainer
        torch.set_num_threads({threads})
        derainer = Derainer({model!r}, weights={str(weights)!r}, device="cpu", tile={tile!r})
        rgb = np.array(Image.open({str(image)!r}).convert("RGB"))
        start = time.perf_counter()
        if {plain}:
            with torch.inference_mode():
                derainer.network(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)
        else:
            out = derainer(rgb)
            if {output is not None}:
                Image.fromarray(out).save({str(output)!r})
        seconds = time.perf_counter() - start
        peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
        print(int(peak) * 1024, seconds)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    peak, seconds = out.stdout.split()[-2:]
    return int(peak) / 1e9, float(seconds)


def seam_check(model: str, weights: Path, source: Path, tile: int = 256) -> str:
    """A 640 x 480 image against its untiled output: ``tile`` = 256 (exact bands on the CPU fast
    path) and 256-px overlapping tiles (what images beyond the memory budget get)."""
    rgb = load_rgb(source, (640, 480))
    untiled = Derainer(model, weights=weights, device="cpu", tile=0)
    banded = Derainer(model, weights=weights, device="cpu", tile=tile)(rgb)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        tiles = tiled_forward(untiled._forward, x, tile, tile // 4)
    tiles = np.rint(tiles.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    whole = untiled(rgb)
    return (f"640x480 ({source.stem} resized), PSNR against the untiled output: `tile={tile}` (bands) "
            f"{psnr_rgb(banded, whole):.1f} dB; {tile}-px overlapping tiles {psnr_rgb(tiles, whole):.1f} dB")


def uhd_check(model: str, weights: Path, source: Path, threads: int) -> str:
    """A 3840 x 2160 image: automatic (tiled) against untiled, in fresh processes."""
    with tempfile.TemporaryDirectory() as tmp:
        big, tiled, whole = Path(tmp) / "uhd.png", Path(tmp) / "tiled.png", Path(tmp) / "whole.png"
        Image.fromarray(load_rgb(source, UHD)).save(big)
        derainer = Derainer(model, weights=weights, device="cpu")
        tile = derainer.tile_size(UHD[1], UHD[0])
        auto = run_fresh(model, weights, big, threads, output=tiled)
        untiled = run_fresh(model, weights, big, threads, tile=0, output=whole)
        psnr = psnr_rgb(load_rgb(tiled), load_rgb(whole))
    return (f"3840x2160 ({source.stem} resized): automatic = tiles of {tile} px, {auto[1]:.0f} s, peak {auto[0]:.2f} GB; "
            f"untiled: {untiled[1]:.0f} s, peak {untiled[0]:.2f} GB; tiled vs untiled PSNR {psnr:.1f} dB")


def cli_time(model: str, weights: Path, sources: list[Path], threads: int) -> float:
    """Seconds for ``derain image DIR -o OUT`` on ``sources``, end to end."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for src in sources:
            shutil.copy(src, folder / src.name)
        derain = shutil.which("derain") or str(Path(sys.executable).parent / "derain")
        command = [derain, "image", str(folder), "-o", str(Path(tmp) / "out"), "--model", model,
                   "--weights", str(weights), "--device", "cpu", "-q"]
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        start = time.perf_counter()
        subprocess.run(command, check=True, env=env)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sapnet")
    parser.add_argument("--weights", type=Path, default=SHARED / "weights/sapnet_rain100h_authors.pth")
    parser.add_argument("--data", type=Path, default=SHARED / "data/rain100h")
    parser.add_argument("--images", default="7,42", help="Rain100H input numbers timed at 480 x 320")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-1080p", action="store_true", help="skip the 1920 x 1080 rows (the plain pass needs ~7 GB)")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--uhd", action="store_true", help="also 3840 x 2160: tiled vs untiled (about 10 minutes)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    derainer = Derainer(args.model, weights=args.weights, device="cpu")
    sources = [args.data / "input" / f"{n}.png" for n in args.images.split(",")]
    print(f"{args.model}, CPU, {args.threads} threads, torch {torch.__version__}\n")
    print("| image | plain forward (s) | fast path (s) | speed-up | max diff (grey levels) | peak memory plain / fast (GB) |")
    print("|---|---|---|---|---|---|")
    for source in sources:
        r = compare(derainer, load_rgb(source), args.repeats)
        peaks = [run_fresh(args.model, args.weights, source, args.threads, plain)[0] for plain in (True, False)]
        print(f"| {source.name} 480x320 (best of {args.repeats}) | {r['plain']:.2f} | {r['fast']:.2f} | "
              f"{r['plain'] / r['fast']:.2f}x | {r['diff']} | {peaks[0]:.2f} / {peaks[1]:.2f} |", flush=True)
    if not args.skip_1080p:
        with tempfile.TemporaryDirectory() as tmp:
            big = Path(tmp) / "full_hd.png"
            Image.fromarray(load_rgb(sources[0], FULL_HD)).save(big)
            r = compare(derainer, load_rgb(big), repeats=1, warm_up=False)
            peaks = [run_fresh(args.model, args.weights, big, args.threads, plain)[0] for plain in (True, False)]
        print(f"| {sources[0].stem} resized to 1920x1080 (one run) | {r['plain']:.1f} | {r['fast']:.1f} | "
              f"{r['plain'] / r['fast']:.2f}x | {r['diff']} | {peaks[0]:.2f} / {peaks[1]:.2f} |", flush=True)
    if not args.skip_cli:
        folder = [args.data / "input" / f"{n}.png" for n in range(1, 11)]
        seconds = cli_time(args.model, args.weights, folder, args.threads)
        print(f"\n`derain image` on a folder of 10 Rain100H images: {seconds:.1f} s end to end "
              f"({seconds / 10:.2f} s per image, process start and model load included)")
    print("\n" + seam_check(args.model, args.weights, sources[-1]))
    if args.uhd:
        print("\n" + uhd_check(args.model, args.weights, sources[0], args.threads))


if __name__ == "__main__":
    main()
