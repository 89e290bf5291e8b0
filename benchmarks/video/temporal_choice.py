"""Score the temporal stage against frame-by-frame output on a video set (the design was chosen on the
synthetic tuning set of temporal_tuning.py, never on a test set): each model's frame-by-frame outputs
are cached once (the model's seconds per frame are printed then), then the stage runs on them for each
radius and its own seconds per frame are printed.

SET is ``input/SEQ/`` frame folders with ``target/SEQ/`` (PSNR-Y, SSIM-Y and the warping error with
the flow on the clean frames), or one folder of frames without ground truth (the warping error alone,
flow on the rainy input, as ``derain eval`` does for real video).

    python -m benchmarks.video.temporal_choice SET --model sapnet-realrain --radius 2 3

A model ``A>B`` is a cascade (sixth round, docs/video.md): B run on A's cached outputs (fill A's cache first);
``A+stage>B``: B run on A's outputs under the shipped temporal stage; ``M+mirror``: the mean of M's outputs
and those of the mirrored video, mirrored back (a flip self-ensemble).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from derain_cli.derainer import Derainer
from derain_cli.imageio import read_rgb8
from derain_cli.metrics import score
from derain_cli.pairs import natural_key
from derain_cli.video.flow import warping_error
from derain_cli.video.processors import make_processor, run_processor
from derain_cli.video.temporal import RADIUS, TemporalFusion


class Cached:
    """A processor that returns frames derained beforehand (so fusion variants share one model pass)."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames, self.window, self._i = frames, 1, 0

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        self._i += 1
        return [self.frames[self._i - 1]]

    def finish(self) -> list[np.ndarray]:
        return []


def sequences(root: Path) -> list[tuple[str, Path, Path | None]]:
    """(name, rainy frame folder, clean frame folder or None) of each sequence of ``root``."""
    if not (root / "input").is_dir():
        return [(root.name, root, None)]
    names = sorted((p.name for p in (root / "input").iterdir() if p.is_dir()), key=natural_key)
    return [(name, root / "input" / name, root / "target" / name) for name in names]


def frames(folder: Path) -> list[np.ndarray]:
    return [read_rgb8(p) for p in sorted(folder.iterdir(), key=lambda p: natural_key(p.name))]


def cache_parser(description: str | None) -> argparse.ArgumentParser:
    """The arguments of the scripts that score cached outputs: the set, and the cache folder."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", type=Path)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/temporal_cache"))
    return parser


def loaded(root: Path) -> Iterator[tuple[str, list[np.ndarray], list[np.ndarray] | None]]:
    """(name, rainy frames, clean frames or None) of each sequence of ``root``, read one sequence at a time."""
    for seq, rainy_folder, clean_folder in sequences(root):
        yield seq, frames(rainy_folder), frames(clean_folder) if clean_folder else None


def cached(cache: Path, model: str, root: Path, seq: str) -> list[np.ndarray]:
    """A model's frame-by-frame outputs of one sequence, as :func:`main` cached them (bf16 where the CPU has it)."""
    return list(np.load(cache / model / "auto" / f"{root.name}_{seq}.npy"))


def print_table(rows: dict[str, list[tuple[float, float, float]]], prefix: str = "") -> None:
    """One markdown row per label: the means of PSNR-Y, SSIM-Y and the warping error x1e3 over the sequences."""
    for label, values in rows.items():
        psnr, ssim, werr = np.mean(values, axis=0)
        print(f"| {prefix}{label} | {psnr:.2f} | {ssim:.4f} | {werr:.3f} |")


def rounded_mean(videos: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Frame-wise mean of equally long videos, rounded half up (as VideoEnsemble)."""
    count = len(videos)
    return [((sum(f.astype(np.uint16) for f in group) + count // 2) // count).astype(np.uint8) for group in zip(*videos)]


def measure(
    out: list[np.ndarray], clean: list[np.ndarray] | None, scored: slice = slice(None), rainy: list[np.ndarray] | None = None
) -> tuple[float, float, float]:
    """Mean PSNR-Y, SSIM-Y and warping error x1e3 (flow on ``clean``) of the ``scored`` frames; without
    ``clean``, NaN, NaN and the warping error with the flow on ``rainy``."""
    if clean is None:
        return float("nan"), float("nan"), 1e3 * warping_error(out[scored], rainy[scored])
    out, clean = out[scored], clean[scored]
    scores = [score(o, c) for o, c in zip(out, clean)]
    return float(np.mean([s.psnr for s in scores])), float(np.mean([s.ssim for s in scores])), 1e3 * warping_error(out, clean)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", type=Path)
    parser.add_argument("--model", default="sapnet-realrain")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--radius", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/temporal_cache"))
    parser.add_argument("--score", default=None, help="score only frames A:B (1-based, inclusive) of each sequence")
    args = parser.parse_args()
    scored = slice(None)
    if args.score:
        first, last = (int(v) for v in args.score.split(":"))
        scored = slice(first - 1, last)
    derainer = None
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for seq, rainy_folder, clean_folder in sequences(args.set):
        rainy = frames(rainy_folder)
        clean = frames(clean_folder) if clean_folder else None
        cache = args.cache / args.model / args.precision / f"{args.set.name}_{seq}.npy"
        if cache.exists():
            derained = list(np.load(cache))
        else:
            first, _, last = args.model.rpartition(">")
            derainer = derainer or Derainer(last.removesuffix("+mirror"), precision=args.precision)
            source = rainy
            if first:
                source = cached(args.cache, first.removesuffix("+stage"), args.set, seq)
                if first.endswith("+stage"):
                    source = run_processor(TemporalFusion(Cached(source), RADIUS), rainy)
            began = time.perf_counter()
            derained = run_processor(make_processor(derainer, temporal=0), source)  # clips for a video model
            if last.endswith("+mirror"):  # and the mirrored video's, mirrored back: a flip self-ensemble
                mirrored = run_processor(make_processor(derainer, temporal=0), [np.ascontiguousarray(f[:, ::-1]) for f in source])
                derained = rounded_mean([derained, [m[:, ::-1] for m in mirrored]])
            print(f"{seq}: model {(time.perf_counter() - began) / len(rainy):.3f} s/frame", flush=True)
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, np.stack(derained))
        rows.setdefault("rainy", []).append(measure(rainy, clean, scored, rainy))
        rows.setdefault("frame by frame", []).append(measure(derained, clean, scored, rainy))
        print(seq, "rainy", rows["rainy"][-1], "frame by frame", rows["frame by frame"][-1], flush=True)
        for radius in args.radius:
            began = time.perf_counter()
            fused = run_processor(TemporalFusion(Cached(derained), radius), rainy)
            seconds = (time.perf_counter() - began) / len(rainy)
            label = f"temporal r={radius}"
            rows.setdefault(label, []).append(measure(fused, clean, scored, rainy))
            print(f"{seq}: {label} {seconds:.3f} s/frame {rows[label][-1]}", flush=True)
    for label, values in rows.items():
        psnr, ssim, werr = np.mean(values, axis=0)
        print(f"{label:20s} {psnr:7.3f} {ssim:7.4f} {werr:7.3f}")


if __name__ == "__main__":
    main()
