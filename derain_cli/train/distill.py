"""Distillation data (``derain train --teacher NAME``): pairs of (rainy input, the teacher's output).

A teacher needs no ground truth, so with a teacher every ``--dataset`` item gives inputs only:
a paired set its rainy images, a plain folder of photos (real rain, unlabelled) its images, and
``synth:CLEAN`` fixed renders of its clean images (``renders=N`` versions each, seeds a pure
function of the run seed and the file name). ``crop=N`` gives the teacher one N x N crop of each
input (its position a pure function of the input's place in its folder) instead of the whole image: a
CPU teacher then costs a fraction of a photo per input, at the photo's own scale. On a CPU the teacher's forward pass costs far more
than a student's training step, so it runs once per input image, never per step: every input is
written once (8-bit PNG, long side reduced to :data:`MAX_SIDE`) under the cache, named by the
SHA-256 of its pixels, and the teacher's output beside it under the teacher's name and
precision. A resumed or repeated run reuses them; another machine recomputes them (bf16
outputs may differ there in the last bit, fp32 ones do not).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from derain_cli.errors import DerainError, UsageError
from derain_cli.imageio import read_rgb8, write_rgb8
from derain_cli.pairs import Pair, find_pairs, image_files, natural_key
from derain_cli.synth.folder import image_seed
from derain_cli.synth.params import draw_params
from derain_cli.synth.render import RainRenderer

# Long side of the inputs the teacher sees: large photos are reduced (area filter) first, which
# keeps a 12-megapixel photo from costing the teacher minutes and a patch from seeing a tiny crop.
MAX_SIDE = 640
TEACHER_PRECISION = "auto"  # bf16 where the CPU computes it natively (within 0.05 dB of fp32), fp16 on CUDA

LoadInput = Callable[[], np.ndarray]


def cache_root() -> Path:
    """``$DERAIN_CACHE/teacher``, else ``$XDG_CACHE_HOME/derain/teacher`` (default ``~/.cache/derain/teacher``)."""
    if os.environ.get("DERAIN_CACHE"):
        return Path(os.environ["DERAIN_CACHE"]).expanduser() / "teacher"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return cache / "derain" / "teacher"


def reduce(rgb: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """``rgb`` with its long side at most ``max_side`` (area resampling), unchanged when already small enough."""
    height, width = rgb.shape[:2]
    if max(height, width) <= max_side:
        return rgb
    factor = max_side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BOX))


def _has_pairs(folder: Path) -> bool:
    try:
        find_pairs(folder)
    except DerainError:
        return False
    return True


def source_inputs(folder: Path, synthetic: bool, options: dict[str, str], seed: int) -> Iterator[LoadInput]:
    """Loaders of the inputs one ``--dataset`` item gives a teacher (see the module docstring)."""
    crop = _count(options, "crop", folder, 0, (16, 4096))
    for number, load in enumerate(_whole_inputs(folder, synthetic, options, seed)):
        yield (lambda load=load, number=number: _crop(load(), crop, number)) if crop else load


def _whole_inputs(folder: Path, synthetic: bool, options: dict[str, str], seed: int) -> Iterator[LoadInput]:
    if synthetic:
        renders = _count(options, "renders", folder, 1, (1, 100))
        preset = options.get("preset", "mix")
        from derain_cli.train.sources import clean_images  # here: sources imports this module

        for path in clean_images(folder):
            for k in range(renders):
                yield lambda path=path, k=k: _render(path, preset, image_seed(seed, f"{path.stem}:{k}"))
        return
    if _has_pairs(folder):
        paths = [pair.rainy for pair in find_pairs(folder).pairs]
    else:
        paths = sorted(image_files(folder), key=lambda p: natural_key(p.name))
    if not paths:
        raise DerainError(f"{folder}: no images for the teacher (a paired set, a folder of photos or synth:CLEAN)")
    for path in paths:
        yield lambda path=path: read_rgb8(path)


def _count(options: dict[str, str], name: str, folder: Path, default: int, bounds: tuple[int, int]) -> int:
    """Whole-number option ``name`` of a ``--dataset`` item, checked against ``bounds``."""
    try:
        value = int(options.get(name, str(default)))
    except ValueError:
        raise UsageError(f"--dataset {folder}: {name}={options[name]!r} is not a whole number") from None
    if name in options and not bounds[0] <= value <= bounds[1]:
        raise UsageError(f"--dataset {folder}: {name} must be in {bounds[0]}..{bounds[1]}, got {value}")
    return value


def _crop(rgb: np.ndarray, size: int, number: int) -> np.ndarray:
    """A ``size`` square of (reduced) ``rgb``, the ``number``-th input of its item, at a position drawn from
    ``number`` alone (not the run's seed: any run then reuses the teacher's cached outputs)."""
    rgb = reduce(rgb)
    height, width = rgb.shape[:2]
    rng = np.random.default_rng([number, 0xC0])
    top = int(rng.integers(0, max(1, height - size + 1)))
    left = int(rng.integers(0, max(1, width - size + 1)))
    return np.ascontiguousarray(rgb[top : top + size, left : left + size])


def _render(path: Path, preset: str, seed: int) -> np.ndarray:
    """Rain rendered over the whole clean image (after reduction, so streak sizes fit what the teacher sees)."""
    clean = reduce(read_rgb8(path))
    params = draw_params(preset, seed)
    return RainRenderer(clean.shape[0], clean.shape[1], params).frame(clean)


@dataclass
class Teacher:
    """A zoo model whose outputs a student learns from, run once per input and cached under ``root``."""

    model: str
    device: str = "auto"
    root: Path | None = None

    def __post_init__(self) -> None:
        from derain_cli.derainer import Derainer  # here: the trainer imports this module before the models load

        self.root = self.root or cache_root()
        # Built once (a second or so): its resolved precision names the cache folder of its outputs.
        self.derainer = Derainer(self.model, device=self.device, precision=TEACHER_PRECISION)
        self.outputs = self.root / f"{self.model}-{str(self.derainer.dtype).removeprefix('torch.')}"
        self.computed = 0
        from derain_cli.weights.registry import load_registry

        entry = load_registry().find(self.model)
        # Only a model we may relicense (MIT, or ours) can teach a model that ships: recorded in config.json.
        self.licence = entry.licence if entry else "none stated (weights given by file)"

    def pair(self, load: LoadInput) -> Pair:
        """The (input, teacher output) pair of one input, computing and caching what is missing."""
        rgb = reduce(load())
        key = hashlib.sha256(f"{rgb.shape}".encode() + rgb.tobytes()).hexdigest()[:32]
        rainy = self.root / "inputs" / f"{key}.png"
        if not rainy.is_file():
            _write(rainy, rgb)
        target = self.outputs / f"{key}.png"
        if not target.is_file():
            _write(target, self.derainer(rgb))
            self.computed += 1
        return Pair(key, rainy, target)

    def pairs(self, loaders: list[LoadInput], label: str) -> list[Pair]:
        """Every pair of ``loaders``, reporting progress on stderr while the teacher has work to do."""
        found = []
        for number, load in enumerate(loaders, 1):
            before = self.computed
            found.append(self.pair(load))
            if self.computed > before and (number % 10 == 0 or number == len(loaders)):
                print(f"teacher {self.model}: {label} {number}/{len(loaders)}", file=sys.stderr, flush=True)
        return found


def _write(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_rgb8(path, rgb)
