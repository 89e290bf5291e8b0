"""Fast inference against the plain forward pass: fp32 and bf16, speed ratio, accuracy, peak memory, CLI time.

    python -m benchmarks.speed.bench_infer --weights ../shared/weights/sapnet_rain100h_authors.pth

In one process, on real Rain100H images (480 x 320) and on one of them resized to 1920 x 1080:
the plain forward pass (``RecurrentDerainNet.forward``, the papers' module structure, NCHW,
float32) against ``Derainer(model, weights, device="cpu", precision=P)`` for P = fp32 and bf16
(the fast path, uint8 in and out, conversions included). At 480 x 320 each runs once to warm
up, then ``--repeats`` times, the three alternating; the best time counts. At 1080p each runs
once. Per method: the largest grey-level difference from the plain output and the PSNR-Y
change against the clean image (the 1080p clean image is resized alike). Peak memory is the
peak resident set of a fresh process deraining one image, so it includes Python and torch
(``VmHWM``; ``ru_maxrss`` would include the parent's memory, inherited through exec). Then the
bf16 pass's time in convolutions (torch profiler) against the convolution roofline measured
here (the best bf16 GFLOP/s of the model's own convolution shapes). Last, ``derain image DIR -o
OUT`` on a folder of 10 Rain100H images, timed end to end (process start, model load, reading
and writing included). With ``--uhd``, a 3840 x 2160 image derained automatically (tiles) and
untiled, each in a fresh process. Prints Markdown, with the machine's load (``os.getloadavg``).
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

from benchmarks.common import SHARED, load_average, load_rgb, plain_forward
from derain_cli import Derainer
from derain_cli.fast.layout import fuse
from derain_cli.metrics import psnr_rgb, psnr_y
from derain_cli.tiling import tiled_forward

FULL_HD = (1920, 1080)
UHD = (3840, 2160)


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def cpu_timed(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result): with one thread on a loaded machine the
    CPU time is the steadier measure (waiting for a core does not count)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


PRECISIONS = ("fp32", "bf16")


def compare(derainers: dict[str, Derainer], rgb: np.ndarray, clean: np.ndarray, repeats: int,
            warm_up: bool = True, plain: bool = True) -> dict[str, dict[str, float]]:
    """Per method ("plain", then each fast precision): best time (runs alternating), largest
    difference from the plain output (without ``plain``: from the first fast one), PSNR-Y change
    against ``clean``."""
    network = next(iter(derainers.values())).network
    methods = {"plain": lambda: plain_forward(network, rgb)} if plain else {}
    methods |= {p: (lambda d=d: d(rgb)) for p, d in derainers.items()}
    if warm_up:
        for method in methods.values():
            method()
    times: dict[str, list[float]] = {name: [] for name in methods}
    cpu: dict[str, list[float]] = {name: [] for name in methods}
    outputs: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for name, method in methods.items():
            seconds, cpu_seconds, outputs[name] = cpu_timed(method)
            times[name].append(seconds)
            cpu[name].append(cpu_seconds)
    reference = next(iter(outputs.values()))
    base = psnr_y(reference, clean)
    return {name: {"seconds": min(times[name]), "cpu": min(cpu[name]), "dpsnr": psnr_y(out, clean) - base,
                   "diff": int(np.abs(reference.astype(int) - out.astype(int)).max())}
            for name, out in outputs.items()}


def conv_share(derainer: Derainer, rgb: np.ndarray) -> tuple[float, float]:
    """(seconds in convolutions, total seconds) of one pass, from the torch profiler's self CPU times."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        derainer(rgb)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events if "convolution" in e.key)
    return conv / 1e6, total / 1e6


def model_convolutions(network: torch.nn.Module) -> list[tuple[int, int, int, int]]:
    """(in channels, out channels, dilation, count) of the fast path's 3x3 convolutions per pass."""
    layout = fuse(network)
    c, stages = layout.channels, layout.stages
    shapes = [(6, c, 1, stages), (c, 4 * c, 1, 1), (2 * c, 4 * c, 1, stages - 1), (c, 3, 1, stages)]
    return shapes + [(c, c, b.first.dilation, 2 * stages) for b in layout.blocks]


def roofline(network: torch.nn.Module, size: tuple[int, int], dtype: torch.dtype, repeats: int) -> tuple[float, float]:
    """(GFLOP per pass, best GFLOP/s of any of the pass's convolution shapes alone in ``dtype``, channels_last)."""
    width, height = size
    flop, best = 0.0, 0.0
    conv = torch.ops.mkldnn._convolution_pointwise
    for cin, cout, d, count in model_convolutions(network):
        one = 2 * cin * cout * 9 * width * height
        flop += one * count
        x = torch.rand(1, cin, height, width).to(dtype).contiguous(memory_format=torch.channels_last)
        w = torch._C._nn.mkldnn_reorder_conv2d_weight(
            torch.randn(cout, cin, 3, 3).to(dtype).to_mkldnn(), [d, d], [1, 1], [d, d], 1, [1, cin, 256, 256])
        b = torch.zeros(cout, dtype=dtype)
        seconds = min(timed(conv, x, w, b, [d, d], [1, 1], [d, d], 1, "relu", [], "")[0] for _ in range(repeats + 1))
        best = max(best, one / seconds)
    return flop / 1e9, best / 1e9


def run_fresh(model: str, weights: Path, image: Path, threads: int, plain: bool = False,
              tile: int | None = None, output: Path | None = None, precision: str = "auto") -> tuple[float, float]:
    """Derain ``image`` in a fresh process (plain pass or ``Derainer``); returns (peak memory GB, seconds)."""
    script = textwrap.dedent(
        f"""
        import time, numpy as np, torch
        from PIL import Image
        from derain_cli import Derainer
        torch.set_num_threads({threads})
        derainer = Derainer({model!r}, weights={str(weights)!r}, device="cpu", tile={tile!r}, precision={precision!r})
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


def cli_time(model: str, weights: Path, sources: list[Path], threads: int, precision: str) -> float:
    """Seconds for ``derain image DIR -o OUT`` on ``sources``, end to end."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for src in sources:
            shutil.copy(src, folder / src.name)
        derain = shutil.which("derain") or str(Path(sys.executable).parent / "derain")
        command = [derain, "image", str(folder), "-o", str(Path(tmp) / "out"), "--model", model,
                   "--weights", str(weights), "--device", "cpu", "--precision", precision, "-q"]
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        start = time.perf_counter()
        subprocess.run(command, check=True, env=env)
        return time.perf_counter() - start


def row(label: str, result: dict[str, dict[str, float]], peaks: dict[str, float]) -> str:
    """A table row; the first method is the reference of the speed-ups (the plain pass unless skipped)."""
    first = next(iter(result.values()))
    cells = [] if "plain" in result else ["skipped"]
    cells += [f"{r['seconds']:.2f} ({first['seconds'] / r['seconds']:.2f}x; CPU {r['cpu']:.2f} s, "
              f"{first['cpu'] / r['cpu']:.2f}x; {r['diff']}, {r['dpsnr']:+.3f} dB, {peaks[m]:.2f} GB)" for m, r in result.items()]
    return f"| {label} | " + " | ".join(cells) + " |"


def peaks_of(args: argparse.Namespace, image: Path, plain: bool = True) -> dict[str, float]:
    """Peak memory (GB) of a fresh process per method."""
    found = {"plain": run_fresh(args.model, args.weights, image, args.threads, plain=True)[0]} if plain else {}
    for p in PRECISIONS:
        found[p] = run_fresh(args.model, args.weights, image, args.threads, precision=p)[0]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sapnet")
    parser.add_argument("--weights", type=Path, default=SHARED / "weights/sapnet_rain100h_authors.pth")
    parser.add_argument("--data", type=Path, default=SHARED / "data/rain100h")
    parser.add_argument("--images", default="7,42", help="Rain100H input numbers timed at 480 x 320")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-1080p", action="store_true", help="skip the 1920 x 1080 rows (the plain pass needs ~4 GB)")
    parser.add_argument("--no-plain-1080p", action="store_true",
                        help="at 1920 x 1080 time the fast paths only (speed-ups against fast fp32): for a machine short of memory")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--uhd", action="store_true", help="also 3840 x 2160: tiled vs untiled (about 10 minutes)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    derainers = {p: Derainer(args.model, weights=args.weights, device="cpu", precision=p) for p in PRECISIONS}
    numbers = args.images.split(",")
    pairs = [(args.data / "input" / f"{n}.png", args.data / "target" / f"{n}.png") for n in numbers]
    print(f"{args.model}, CPU, {args.threads} threads, torch {torch.__version__}, load average at start "
          f"{load_average()}\n")
    print("Each cell: wall seconds (speed-up over plain; CPU seconds of the process, speed-up by CPU time; "
          "max grey-level difference from plain, PSNR-Y change, peak memory of a fresh process)\n")
    print("| image | plain fp32 | fast fp32 | fast bf16 |\n|---|---|---|---|")
    for source, target in pairs:
        result = compare(derainers, load_rgb(source), load_rgb(target), args.repeats)
        print(row(f"{source.name} 480x320 (best of {args.repeats})", result, peaks_of(args, source)), flush=True)
    if not args.skip_1080p:
        with tempfile.TemporaryDirectory() as tmp:
            big = Path(tmp) / "full_hd.png"
            Image.fromarray(load_rgb(pairs[0][0], FULL_HD)).save(big)
            plain = not args.no_plain_1080p
            result = compare(derainers, load_rgb(big), load_rgb(pairs[0][1], FULL_HD), repeats=1, warm_up=False, plain=plain)
            print(row(f"{pairs[0][0].stem} resized to 1920x1080 (one run)", result, peaks_of(args, big, plain)), flush=True)
    rgb = load_rgb(pairs[0][0])
    conv, total = conv_share(derainers["bf16"], rgb)
    gflop, peak = roofline(derainers["bf16"].network, rgb.shape[1::-1], torch.bfloat16, args.repeats)
    print(f"\nfast bf16 on {pairs[0][0].name}, profiled: {conv:.2f} s of {total:.2f} s in convolutions ({conv / total:.0%}); "
          f"{gflop:.0f} GFLOP of convolutions per pass at {gflop / conv:.0f} GFLOP/s; the best bf16 convolution "
          f"alone here runs at {peak:.0f} GFLOP/s, so the roofline is {gflop / peak:.2f} s per pass")
    if not args.skip_cli:
        folder = [args.data / "input" / f"{n}.png" for n in range(1, 11)]
        for p in PRECISIONS:
            seconds = cli_time(args.model, args.weights, folder, args.threads, p)
            print(f"\n`derain image --precision {p}` on a folder of 10 Rain100H images: {seconds:.1f} s end to end "
                  f"({seconds / 10:.2f} s per image, process start and model load included)")
    print("\n" + seam_check(args.model, args.weights, pairs[-1][0]))
    if args.uhd:
        print("\n" + uhd_check(args.model, args.weights, pairs[0][0], args.threads))
    print(f"\nload average at the end {load_average()}")


if __name__ == "__main__":
    main()
