"""``--dataset`` specs: paired folders, named sets and on-the-fly synthetic rain, mixed with weights.

    --dataset rain100l-train                             a named or paired set
    --dataset synth:clean/,preset=heavy                  new rain on clean/'s images at every step
    --dataset synth:clean/,weight=3,../rain100l_train    mixed: 3 x the synthetic patches per epoch
    --dataset ../rain100l_train,layers=6                 heavy rain: 6 of the set's rain layers per patch

Comma-separated items; ``key=value`` items belong to the source before them (``preset``: a preset
or ``mix``, the default; ``weight``: how many times its patches count per epoch, default 1;
``layers``: for an additive synthetic pair set, that many of its rain layers over each clean patch,
``derain_cli.train.layered``).
With a teacher (``derain_cli.train.distill``) every item gives inputs only, a plain folder of photos
included, ``renders=N`` fixes the number of rainy versions of each synth: image and ``crop=N`` cuts
what the teacher sees to one N x N crop per input; ``target=clean``
keeps an item's own ground truth instead (new rain every step for synth:), where the teacher's cost
is not worth paying. Without one,
a synthetic source renders new rain at every epoch (its parameters a pure function of the run seed,
the epoch and the patch index), so the model never sees the same rainy patch twice and a resumed run
still sees exactly the batches an uninterrupted one would have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from derain_cli.errors import DerainError, UsageError
from derain_cli.imageio import image_size, read_rgb8
from derain_cli.pairs import FOLDER_LAYOUTS, Pair, image_files, natural_key
from derain_cli.synth.params import draw_params, preset
from derain_cli.synth.render import RainRenderer
from derain_cli.synth.veil import estimate_airlight
from derain_cli.train.data import PairedPatches, _to_tensor, load_pairs
from derain_cli.train.datasets import resolve_dataset
from derain_cli.train.distill import Teacher, source_inputs
from derain_cli.train.layered import MAX_LAYERS, LayeredPatches

SYNTH_PREFIX = "synth:"
_OPTIONS = {"preset", "weight", "renders", "target", "crop", "layers"}


@dataclass
class Source:
    """One item of a ``--dataset`` spec."""

    name: str  # folder, set name, or synth:FOLDER
    options: dict[str, str] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return self.name.startswith(SYNTH_PREFIX)

    @property
    def weight(self) -> float:
        try:
            weight = float(self.options.get("weight", 1))
        except ValueError:
            raise UsageError(f"--dataset {self.name}: weight={self.options['weight']!r} is not a number") from None
        if not 0 < weight <= 1000:
            raise UsageError(f"--dataset {self.name}: weight must be in (0, 1000], got {weight}")
        return weight

    @property
    def layers(self) -> int:
        """Rain layers per patch (``layers=K``); 0 when not given: the pairs as they are."""
        if "layers" not in self.options:
            return 0
        value = self.options["layers"]
        if not value.isdigit() or not 1 <= int(value) <= MAX_LAYERS:
            raise UsageError(f"--dataset {self.name}: layers must be a whole number in 1..{MAX_LAYERS}, got {value!r}")
        return int(value)


def parse_sources(spec: str) -> list[Source]:
    """``"synth:a,preset=heavy,b,weight=2"`` -> [Source(synth:a, preset=heavy), Source(b, weight=2)]."""
    sources: list[Source] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if sep and key in _OPTIONS:
            if not sources:
                raise UsageError(f"--dataset {spec!r}: {item!r} comes before any data set")
            sources[-1].options[key] = value
        else:
            sources.append(Source(item))
    if not sources:
        raise UsageError("--dataset is empty")
    for source in sources:
        if source.synthetic and not source.name.removeprefix(SYNTH_PREFIX).strip():
            raise UsageError(f"--dataset {spec!r}: synth: needs a folder of clean images (synth:FOLDER)")
        for option in ("preset", "renders"):
            if option in source.options and not source.synthetic:
                raise UsageError(f"--dataset {source.name}: {option}= is for synth:FOLDER sources")
        if "layers" in source.options:
            if source.synthetic:
                raise UsageError(f"--dataset {source.name}: layers= is for paired sets (their rain layers), not synth:")
            source.layers  # a bad value is refused before any work
        if source.synthetic and source.options.get("preset", "mix") != "mix":
            preset(source.options["preset"])  # an unknown name is refused before any work
    return sources


def clean_images(folder: Path) -> list[Path]:
    """The clean images of ``folder``: its ``target``-like sub-folder if it is a paired set, else its images."""
    for _, _, clean in FOLDER_LAYOUTS:
        if (folder / clean).is_dir():
            folder = folder / clean
            break
    images = sorted(image_files(folder), key=lambda p: natural_key(p.name))
    if not images:
        raise DerainError(f"{folder}: no clean images to render rain on")
    return images


class SynthPatches(Dataset):
    """``dataset[(index, epoch)]`` -> (rainy, clean) patches: a random crop of a clean image with new rain.

    The rain is rendered on the crop only (cheap), placed in its frame: streak sizes follow the frame's
    size, the veil's gradient the crop's rows, the atmospheric light the whole frame's sky.
    """

    def __init__(self, images: list[Path], patch: int, seed: int = 0, patches_per_image: int = 1,
                 preset_name: str = "mix", flips: bool = True) -> None:  # fmt: skip
        self.images, self.patch, self.seed = images, patch, seed
        self.patches_per_image, self.preset_name, self.flips = patches_per_image, preset_name, flips

    def __len__(self) -> int:
        return len(self.images) * self.patches_per_image

    def __getitem__(self, key: tuple[int, int]) -> tuple[Tensor, Tensor]:
        index, epoch = key
        path = self.images[index // self.patches_per_image]
        frame = read_rgb8(path)
        height, width = frame.shape[:2]
        if min(height, width) < self.patch:
            raise DerainError(f"{path}: {width}x{height} is smaller than the {self.patch} px patch")
        rng = np.random.default_rng([self.seed, epoch, index, 0x5C])
        top = int(rng.integers(0, height - self.patch + 1))
        left = int(rng.integers(0, width - self.patch + 1))
        clean = frame[top : top + self.patch, left : left + self.patch]
        if self.flips and rng.random() < 0.5:
            clean = clean[:, ::-1]
        params = draw_params(self.preset_name, int(rng.integers(0, 2**31)),
                             {"airlight": tuple(float(a) for a in estimate_airlight(frame))})  # fmt: skip
        renderer = RainRenderer(self.patch, self.patch, params, frame=(top, height, min(height, width)))
        rainy = renderer.frame(np.ascontiguousarray(clean))
        return _to_tensor(rainy.astype(np.float32) / 255), _to_tensor(clean.astype(np.float32) / 255)


class MixedPatches(Dataset):
    """Several patch sets as one: source ``k`` takes ``round(weight_k * len_k)`` indices of each epoch."""

    def __init__(self, parts: list[tuple[Dataset, float]]) -> None:
        self.parts = [(dataset, max(1, round(weight * len(dataset)))) for dataset, weight in parts]
        self.starts = np.cumsum([0] + [count for _, count in self.parts])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, key: tuple[int, int]) -> tuple[Tensor, ...]:
        index, epoch = key
        part = int(np.searchsorted(self.starts, index, side="right") - 1)
        dataset, _ = self.parts[part]
        local = index - int(self.starts[part])
        # Repeats beyond one pass (weight > 1) see later "epochs" of the part, so they differ.
        cycle, local = divmod(local, len(dataset))
        return dataset[(local, epoch * 1000 + cycle if cycle else epoch)]


def build_patches(
    spec: str, patch: int, seed: int, patches_per_image: int, labels: bool = False, teacher: Teacher | None = None
) -> tuple[Dataset, int]:
    """The training patches of a ``--dataset`` spec and how many images they come from (with ``teacher``:
    its outputs as the targets)."""
    sources = parse_sources(spec)
    for option in ("renders", "target", "crop"):
        if teacher is None and any(option in source.options for source in sources):
            raise UsageError(f"--dataset: {option}= is for a --teacher run (without one every item trains on its ground truth)")
    if labels and (len(sources) > 1 or sources[0].synthetic):
        raise UsageError("--task-labels needs one paired --dataset (labels match its pairs)")
    parts: list[tuple[Dataset, float]] = []
    images = 0
    dataset: Dataset
    for number, source in enumerate(sources):
        part_seed = seed + 7919 * number
        if teacher is not None and _distilled(source):
            folder = resolve_dataset(source.name.removeprefix(SYNTH_PREFIX))
            pairs = teacher.pairs(list(source_inputs(folder, source.synthetic, source.options, part_seed)), source.name)
            _check_patch(pairs, patch, source.name)
            dataset = PairedPatches(pairs, patch, part_seed, patches_per_image)
            images += len(pairs)
        elif source.synthetic:
            folder = resolve_dataset(source.name[len(SYNTH_PREFIX) :])
            files = clean_images(folder)
            dataset = SynthPatches(files, patch, part_seed, patches_per_image, source.options.get("preset", "mix"))
            images += len(files)
        else:
            pairs = load_pairs(resolve_dataset(source.name), patch)
            if source.layers:
                dataset = LayeredPatches(pairs, patch, source.layers, part_seed, patches_per_image)
            else:
                dataset = PairedPatches(pairs, patch, part_seed, patches_per_image)
            images += len(pairs)
        parts.append((dataset, source.weight))
    if len(parts) == 1 and parts[0][1] == 1:
        return parts[0][0], images
    return MixedPatches(parts), images



def _distilled(source: Source) -> bool:
    """Whether a --teacher run learns the teacher's outputs on ``source`` (``target=teacher``, the default)."""
    target = source.options.get("target", "teacher")
    if target not in ("teacher", "clean"):
        raise UsageError(f"--dataset {source.name}: target must be teacher or clean, got {target!r}")
    if target == "teacher" and "layers" in source.options:
        raise UsageError(f"--dataset {source.name}: layers= trains on the set's own clean images: add target=clean")
    for option in ("renders", "crop"):
        if target == "clean" and option in source.options:
            raise UsageError(f"--dataset {source.name}: {option}= is for target=teacher (the inputs a teacher sees)")
    return target == "teacher"


def _check_patch(pairs: list[Pair], patch: int, name: str) -> None:
    small = next((pair for pair in pairs if min(image_size(pair.rainy)) < patch), None)
    if small is not None:
        size = "x".join(map(str, image_size(small.rainy)))
        raise DerainError(f"--dataset {name}: an input ({small.rainy}) is {size}, smaller than the {patch} px patch")
