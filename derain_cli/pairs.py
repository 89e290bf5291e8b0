"""Paired data sets (rainy image + clean ground truth) in the folder layouts the field uses.

Known layouts, tried in this order:

- ``input/`` + ``target/``   (e.g. Rain100H as distributed with MSPFN)
- ``rain/`` + ``norain/``
- ``rainy/`` + ``gt/``
- flat ``rain-NNN.png`` + ``norain-NNN.png`` in one folder (PReNet's test sets)

Pairs are matched by name: the file stem, minus a leading ``rain-`` / ``norain-`` style tag, so
``rain/rain-001.png`` matches ``norain/norain-001.png`` and ``input/1.png`` matches ``target/1.png``
(or ``target/1.jpg``). Files without a partner are reported in :attr:`PairedSet.problems`, never
silently dropped; :func:`check_sizes` reports pairs whose images differ in size.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from derain_cli.errors import DerainError

# (layout name, rainy sub-folder, clean sub-folder)
FOLDER_LAYOUTS = (("input/+target/", "input", "target"), ("rain/+norain/", "rain", "norain"), ("rainy/+gt/", "rainy", "gt"))
FLAT_LAYOUT = "rain-NNN+norain-NNN"
_FLAT_RAINY = re.compile(r"^rain[-_](.+)$")
_FLAT_CLEAN = re.compile(r"^norain[-_](.+)$")
_TAG = re.compile(r"^(?:rainy|rain|norain|clean|gt|target|input)[-_](?=.)", re.IGNORECASE)
# EXIF orientations that swap width and height.


def natural_key(name: str) -> tuple[tuple[str | int, ...], str]:
    """Sort key that orders embedded numbers by value: ``2.png`` < ``10.png`` < ``100.png``."""
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts)), name


@dataclass(frozen=True)
class Pair:
    """A rainy image and its clean ground truth; ``name`` is the matching key (e.g. ``"7"``)."""

    name: str
    rainy: Path
    clean: Path


@dataclass
class PairedSet:
    """The pairs found under ``root`` (natural order) and a line for each file left without a partner."""

    root: Path
    layout: str
    pairs: list[Pair]
    problems: list[str] = field(default_factory=list)

    def limited(self, limit: int | None, every: int = 1) -> list[Pair]:
        """Every ``every``-th pair in natural order (from the first), then the first ``limit`` of those."""
        pairs = self.pairs[::every]
        return pairs if limit is None else pairs[:limit]


def layouts_help() -> str:
    """The known layouts, for error messages."""
    return ", ".join([name for name, _, _ in FOLDER_LAYOUTS] + [f"flat {FLAT_LAYOUT}.png"])


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (hidden ones left out), in directory order."""
    from derain_cli.imageio import IMAGE_SUFFIXES  # here: `derain eval --help` shows layouts_help() without OpenCV

    return [
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    ]


def index_by_key(files: list[Path], key_of: Callable[[Path], str]) -> tuple[dict[str, Path], list[str]]:
    """Map matching key -> file; a key claimed twice is a problem (e.g. ``1.png`` and ``1.jpg``)."""
    index: dict[str, Path] = {}
    problems: list[str] = []
    for path in sorted(files, key=lambda p: natural_key(p.name)):
        key = key_of(path)
        if key in index:
            problems.append(f"{path}: same name as {index[key]}; ignored")
        else:
            index[key] = path
    return index, problems


def folder_key(path: Path) -> str:
    return _TAG.sub("", path.stem, count=1)


def _flat_key(pattern: re.Pattern[str]) -> Callable[[Path], str]:
    return lambda path: pattern.match(path.stem).group(1)


def _match(root: Path, layout: str, rainy: dict[str, Path], clean: dict[str, Path], problems: list[str]) -> PairedSet:
    for key in sorted(rainy.keys() - clean.keys(), key=natural_key):
        problems.append(f"{rainy[key]}: no matching clean image")
    for key in sorted(clean.keys() - rainy.keys(), key=natural_key):
        problems.append(f"{clean[key]}: no matching rainy image")
    keys = sorted(rainy.keys() & clean.keys(), key=natural_key)
    pairs = [Pair(key, rainy[key], clean[key]) for key in keys]
    if not pairs:
        raise DerainError(f"{root}: layout {layout} found but it holds no matching image pairs")
    return PairedSet(root, layout, pairs, problems)


def find_pairs(root: str | Path) -> PairedSet:
    """Detect the layout of ``root`` and match its rainy and clean images by name.

    Raises DerainError when ``root`` is not a folder, matches no known layout, or holds no pairs.
    """
    root = Path(root)
    if not root.is_dir():
        raise DerainError(f"{root}: not a folder")
    for layout, rainy_dir, clean_dir in FOLDER_LAYOUTS:
        if (root / rainy_dir).is_dir() and (root / clean_dir).is_dir():
            rainy, problems = index_by_key(image_files(root / rainy_dir), folder_key)
            clean, more = index_by_key(image_files(root / clean_dir), folder_key)
            return _match(root, layout, rainy, clean, problems + more)
    files = image_files(root)
    rainy_files = [p for p in files if _FLAT_RAINY.match(p.stem)]
    clean_files = [p for p in files if _FLAT_CLEAN.match(p.stem)]
    if rainy_files or clean_files:
        rainy, problems = index_by_key(rainy_files, _flat_key(_FLAT_RAINY))
        clean, more = index_by_key(clean_files, _flat_key(_FLAT_CLEAN))
        return _match(root, FLAT_LAYOUT, rainy, clean, problems + more)
    raise DerainError(f"{root}: no paired layout found; known layouts: {layouts_help()}")


RAIN_FREE_LAYOUT = "rain-free images, each output scored against its own input"


def rain_free_set(root: str | Path) -> PairedSet:
    """The images directly in ``root`` as pairs of themselves, for the do-no-harm measure.

    A derainer given a photo without rain should hand it back nearly unchanged; scoring each
    output against its own input measures how much it changes anyway (texture, tone).
    """
    root = Path(root)
    if not root.is_dir():
        raise DerainError(f"{root}: not a folder")
    files, problems = index_by_key(image_files(root), lambda path: path.stem)
    if not files:
        raise DerainError(f"{root}: no images directly in this folder (rain-free photos for --clean)")
    pairs = [Pair(key, path, path) for key, path in sorted(files.items(), key=lambda item: natural_key(item[0]))]
    return PairedSet(root, RAIN_FREE_LAYOUT, pairs, problems)


def check_sizes(pairs: list[Pair]) -> list[str]:
    """A line for each pair whose rainy and clean images differ in size (or cannot be read)."""
    from derain_cli.imageio import image_size

    problems: list[str] = []
    for pair in pairs:
        try:
            rainy, clean = image_size(pair.rainy), image_size(pair.clean)
        except DerainError as exc:
            problems.append(str(exc))
            continue
        if rainy != clean:
            problems.append(
                f"{pair.rainy}: size {rainy[0]}x{rainy[1]} differs from {pair.clean} ({clean[0]}x{clean[1]})"
            )
    return problems
