"""weights.toml: the named checkpoints derain-cli can fetch, where from, and what they measure.

The file is looked up in this order: ``$DERAIN_WEIGHTS_TOML``; the copy packaged beside this module
(``derain_cli/weights/weights.toml``, a link to the repository's file that wheels carry as a copy);
the repository root (``Path(derain_cli.__file__).parents[1] / "weights.toml"``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import derain_cli
from derain_cli.errors import DerainError, UsageError
from derain_cli.tomlfile import read_toml

TOML_ENV = "DERAIN_WEIGHTS_TOML"
PACKAGED_TOML = Path(__file__).with_name("weights.toml")
REPO_TOML = Path(derain_cli.__file__).resolve().parents[1] / "weights.toml"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# What `derain image` / `eval` / `online-update` / `export` run without --model: our checkpoint that gains
# on real rain and leaves rain-free content alone, with a route to a heavy-rain network for downpours
# (derain_cli/rain_route.py), both shipped inside the package (docs/real-rain.md, issue 25).
DEFAULT_MODEL = "sapnet-realrain-v4"
# What `derain video` and video `derain eval` run without --model: an ensemble (derain_cli/video/ensemble.py)
# of S2VD and sapnet-realrain (the photo default before issue 25), each under the temporal stage, averaged. On the synthetic
# tuning videos it beat sapnet-realrain + stage on every measure (PSNR-Y 34.31 against 33.23, SSIM-Y 0.9760
# against 0.9748, warping error x1e3 1.429 against 1.597), the rule a new video default must pass; the photo
# default of then, sapnet-realrain-v2, alone or in an ensemble with S2VD, did not (docs/video.md).
VIDEO_DEFAULT_MODEL = "s2vd-nturain+sapnet-realrain"
# What joins the model names of an ensemble spec (here: `derain image` refuses one before loading anything)
ENSEMBLE_SEPARATOR = "+"
# The models of that ensemble, which `derain weights list` marks
VIDEO_DEFAULT_MEMBERS = tuple(VIDEO_DEFAULT_MODEL.split(ENSEMBLE_SEPARATOR))
# Test sets an entry may hold a measured score for (weights.toml key -> column title), in column order.
SCORE_SETS = {"rain100h": "Rain100H", "gtrain_dev": "GT-RAIN dev (real)"}


@dataclass(frozen=True)
class HubSource:
    """A file in a Hugging Face Hub model repository."""

    hf_repo: str
    hf_file: str
    revision: str
    sha256: str

    @property
    def label(self) -> str:
        return f"hub {self.hf_repo}/{self.hf_file}@{self.revision}"


@dataclass(frozen=True)
class UrlSource:
    """A file at a plain HTTP(S) URL, cached under ``filename``."""

    url: str
    filename: str
    sha256: str

    @property
    def label(self) -> str:
        return self.url


BUNDLED_DIR = Path(__file__).resolve().parents[1] / "bundled"


@dataclass(frozen=True)
class BundledSource:
    """A checkpoint this project trained, shipped inside the package: there with no network at all."""

    bundled: str  # file name under derain_cli/bundled/
    sha256: str

    @property
    def path(self) -> Path:
        return BUNDLED_DIR / self.bundled

    @property
    def label(self) -> str:
        return f"bundled {self.bundled}"


Source = Union[BundledSource, HubSource, UrlSource]


@dataclass(frozen=True)
class Score:
    """A test set's PSNR/SSIM (None until measured) and the command that measures them."""

    psnr: float | None
    ssim: float | None
    command: str

    def __str__(self) -> str:
        return "not measured yet" if self.psnr is None or self.ssim is None else f"{self.psnr:.2f} / {self.ssim:.4f}"


@dataclass(frozen=True)
class WeightsEntry:
    """One named checkpoint: the architecture it fits and the ordered sources it comes from."""

    name: str
    architecture: str
    options: dict[str, Any]
    description: str
    trained_on: str
    licence: str
    attribution: str
    rain100h: Score | None
    aliases: tuple[str, ...]
    sources: tuple[Source, ...]
    gtrain_dev: Score | None = None
    claim: str = ""  # the paper's own numbers, as the authors state them
    stage: dict[str, float] = field(default_factory=dict)  # streak-stage settings (derain_cli.streak_stage); {} = none
    route: dict[str, Any] = field(default_factory=dict)  # heavy-rain route (derain_cli.rain_route); {} = none

    def scores(self) -> dict[str, Score | None]:
        """The entry's score on each of :data:`SCORE_SETS` (None where it has none)."""
        return {key: getattr(self, key) for key in SCORE_SETS}

    @property
    def hashes(self) -> frozenset[str]:
        """Every sha256 a file of this checkpoint may have (one per source format)."""
        return frozenset(s.sha256 for s in self.sources)

    @property
    def hub_source(self) -> HubSource | None:
        return next((s for s in self.sources if isinstance(s, HubSource)), None)

    @property
    def local_filenames(self) -> list[str]:
        """Names under which a copy supplied by hand is found in ``$DERAIN_WEIGHTS_DIR``."""
        names = [f"{self.name}.safetensors", f"{self.name}.pth"]
        return names + [s.filename for s in self.sources if isinstance(s, UrlSource)]

    def parameter_count(self) -> int | None:
        """Number of parameters of the architecture (None when it is not registered here)."""
        from derain_cli.models import create_model, is_model

        if not is_model(self.architecture):
            return None
        return sum(p.numel() for p in create_model(self.architecture, **self.options).parameters())


@dataclass(frozen=True)
class SegmentationEntry:
    """A segmentation model of the downstream-task commands: a Hugging Face Hub checkpoint (``hf_repo``),
    or a built-in network (``architecture``) with its checkpoint, classes, palette and preprocessing."""

    name: str
    hf_repo: str | None
    revision: str
    description: str
    licence: str
    default: bool
    offline_default: bool = False  # taken when the default entry cannot be loaded (offline, no transformers)
    architecture: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    palette: tuple[tuple[int, int, int], ...] = ()
    void: int | None = None  # the class id of "void"/unlabelled: predicted, but never scored
    preprocess: dict[str, Any] = field(default_factory=dict)
    checkpoint: WeightsEntry | None = None
    claim: str = ""


@dataclass(frozen=True)
class Registry:
    """The parsed weights.toml."""

    path: Path
    models: dict[str, WeightsEntry]
    segmentation: dict[str, SegmentationEntry]

    def find(self, name: str) -> WeightsEntry | None:
        """The entry called ``name`` or aliased ``name``, or None."""
        if name in self.models:
            return self.models[name]
        return next((e for e in self.models.values() if name in e.aliases), None)

    def get(self, name: str) -> WeightsEntry:
        """Like :meth:`find`, but an unknown name is a usage error listing the known ones."""
        entry = self.find(name)
        if entry is None:
            raise UsageError(f"unknown checkpoint {name!r}; known: {', '.join(self.names())} (see {self.path})")
        return entry

    def names(self) -> list[str]:
        """Entry names and aliases, in file order."""
        return [n for e in self.models.values() for n in (e.name, *e.aliases)]

    def default_segmentation(self) -> SegmentationEntry:
        """The segmentation entry marked ``default = true``."""
        for entry in self.segmentation.values():
            if entry.default:
                return entry
        raise DerainError(f"{self.path}: no [segmentation.*] table has default = true")

    def offline_segmentation(self) -> SegmentationEntry | None:
        """The entry marked ``offline_default = true`` (used when the default cannot be loaded), or None."""
        return next((e for e in self.segmentation.values() if e.offline_default), None)


def weights_toml_path() -> Path:
    """The weights.toml in use (see the module docstring for the search order)."""
    if os.environ.get(TOML_ENV):
        path = Path(os.environ[TOML_ENV])
        if not path.is_file():
            raise DerainError(f"{path}: ${TOML_ENV} names a file that does not exist")
        return path
    for path in (PACKAGED_TOML, REPO_TOML):
        if path.is_file():
            return path.resolve()
    raise DerainError(f"weights.toml not found (looked for {PACKAGED_TOML} and {REPO_TOML}); set ${TOML_ENV}")


def load_registry(path: str | os.PathLike[str] | None = None) -> Registry:
    """Parse weights.toml (``path``, or the one :func:`weights_toml_path` finds)."""
    path = Path(path) if path is not None else weights_toml_path()
    data = read_toml(path)
    for section in ("models", "segmentation"):
        if not isinstance(data.get(section, {}), dict):
            raise DerainError(f"{path}: [{section}] must be a table of entries, got {data[section]!r}")
    models = {name: _entry(path, name, table) for name, table in data.get("models", {}).items()}
    taken = set(models)
    for entry in models.values():
        for alias in entry.aliases:
            if alias in taken:
                raise DerainError(f"{path}: name {alias!r} is used twice")
            taken.add(alias)
    segmentation = {name: _segmentation(path, name, t) for name, t in data.get("segmentation", {}).items()}
    registry = Registry(path, models, segmentation)
    for entry in models.values():
        _check_route(registry, entry)
    return registry


def _check_route(registry: Registry, entry: WeightsEntry) -> None:
    """A route leads to another single-image entry of the same file, which routes no further."""
    if not entry.route:
        return
    from derain_cli.models import is_video_model  # here: the models need torch, the registry does not

    target = registry.find(entry.route["model"])
    where = f"{registry.path}: [models.{entry.name}.route]"
    if target is None:
        raise DerainError(f"{where} leads to {entry.route['model']!r}, which is not an entry of this file")
    if target.route or target.name == entry.name:
        raise DerainError(f"{where} leads to {target.name!r}, which routes again: a route has one step")
    if is_video_model(target.architecture) or is_video_model(entry.architecture):
        raise DerainError(f"{where}: a route joins two single-image models ({target.name} or {entry.name} is a video model)")


# The schema: field -> (accepted types, required). Unknown fields are left alone (newer files may add some).
Fields = dict[str, tuple[Any, bool]]
_NUMBER = (int, float)
_MODEL: Fields = {
    "architecture": (str, True), "options": (dict, False), "description": (str, False), "trained_on": (str, False),
    "licence": (str, False), "attribution": (str, False), "aliases": (list, False), "rain100h": (dict, False),
    "gtrain_dev": (dict, False), "claim": (str, False), "sources": (list, False), "stage": (dict, False),
    "route": (dict, False),
}  # fmt: skip
_SCORE: Fields = {"psnr": (_NUMBER, False), "ssim": (_NUMBER, False), "command": (str, False)}
_SOURCE: Fields = {
    "sha256": (str, True), "hf_repo": (str, False), "hf_file": (str, False), "revision": (str, False),
    "url": (str, False), "filename": (str, False), "bundled": (str, False),
}  # fmt: skip
_SEGMENTATION: Fields = {
    "hf_repo": (str, False), "revision": (str, False), "description": (str, False), "licence": (str, False),
    "default": (bool, False), "offline_default": (bool, False), "claim": (str, False), "architecture": (str, False),
    "labels": (list, False), "palette": (list, False), "void": (int, False), "preprocess": (dict, False),
}  # fmt: skip


def _kind(types: Any) -> str:
    names = {str: "a string", bool: "true or false", list: "a list", dict: "a table", _NUMBER: "a number"}
    return names[types]


def _checked(path: Path, where: str, table: Any, fields: Fields) -> dict[str, Any]:
    """``table`` after checking each known field's type; one line naming the file, the entry and the field."""
    if not isinstance(table, dict):
        raise DerainError(f"{path}: [{where}] must be a table, got {table!r}")
    for key, (types, required) in fields.items():
        if key not in table:
            if required:
                raise DerainError(f"{path}: [{where}] needs {key!r} ({_kind(types)})")
            continue
        value = table[key]
        if not isinstance(value, types) or (types is _NUMBER and isinstance(value, bool)):
            raise DerainError(f"{path}: [{where}] field {key!r} must be {_kind(types)}, got {value!r}")
    return table


def _strings(path: Path, where: str, key: str, values: list[Any]) -> tuple[str, ...]:
    bad = next((v for v in values if not isinstance(v, str)), None)
    if bad is not None:
        raise DerainError(f"{path}: [{where}] field {key!r} must be a list of strings, got {bad!r} in it")
    return tuple(values)


def _source(path: Path, where: str, table: Any) -> Source:
    table = _checked(path, where, table, _SOURCE)
    sha = table["sha256"]
    if not _SHA256.fullmatch(sha):
        raise DerainError(f"{path}: [{where}] sha256 must be 64 lowercase hex digits")
    if "hf_repo" in table:
        if "hf_file" not in table:
            raise DerainError(f"{path}: [{where}] needs 'hf_file' (a string)")
        return HubSource(table["hf_repo"], table["hf_file"], table.get("revision", "main"), sha)
    if "url" in table:
        if "filename" not in table:
            raise DerainError(f"{path}: [{where}] needs 'filename' (a string)")
        return UrlSource(table["url"], _plain_name(path, where, "filename", table["filename"], "the weights cache"), sha)
    if "bundled" in table:
        return BundledSource(_plain_name(path, where, "bundled", table["bundled"], "derain_cli/bundled/"), sha)
    raise DerainError(f"{path}: [{where}] a source needs 'hf_repo', 'url' or 'bundled'")


def _entry(path: Path, name: str, table: Any) -> WeightsEntry:
    from derain_cli.models import check_options, is_model  # here: the models need torch, the registry does not
    from derain_cli.rain_route import RainRoute
    from derain_cli.streak_stage import StreakStage

    where = f"models.{name}"
    table = _checked(path, where, table, _MODEL)
    options = dict(table.get("options", {}))
    if is_model(table["architecture"]):
        check_options(table["architecture"], options, f"{path}: [{where}]")
    stage = StreakStage.from_table(table["stage"], f"{path}: [{where}.stage]").to_table() if "stage" in table else {}
    route = vars(RainRoute.from_table(table["route"], f"{path}: [{where}.route]")) if "route" in table else {}
    scores = {key: _score(path, f"{where}.{key}", table[key]) if key in table else None for key in SCORE_SETS}
    return WeightsEntry(
        name=name,
        architecture=table["architecture"],
        options=options,
        description=table.get("description", ""),
        trained_on=table.get("trained_on", ""),
        licence=table.get("licence", "none stated"),
        attribution=table.get("attribution", ""),
        aliases=_strings(path, where, "aliases", table.get("aliases", [])),
        sources=tuple(_source(path, f"{where}.sources", s) for s in table.get("sources", [])),
        claim=table.get("claim", ""),
        stage=stage,
        route=route,
        **scores,
    )


def _score(path: Path, where: str, table: Any) -> Score:
    table = _checked(path, where, table, _SCORE)
    return Score(table.get("psnr"), table.get("ssim"), table.get("command", ""))


def _segmentation(path: Path, name: str, table: Any) -> SegmentationEntry:
    where = f"segmentation.{name}"
    table = _checked(path, where, table, _SEGMENTATION)
    common = dict(
        name=name,
        revision=table.get("revision", "main"),
        description=table.get("description", ""),
        licence=table.get("licence", "none stated"),
        default=table.get("default", False),
        offline_default=table.get("offline_default", False),
        claim=table.get("claim", ""),
    )
    if "architecture" not in table:
        if "hf_repo" not in table:
            raise DerainError(f"{path}: [{where}] needs 'hf_repo' (a Hub model) or 'architecture' (a built-in network)")
        return SegmentationEntry(hf_repo=table["hf_repo"], **common)
    if "labels" not in table or "preprocess" not in table:
        raise DerainError(f"{path}: [{where}] a built-in network needs 'labels' (a list) and 'preprocess' (a table)")
    labels = _strings(path, where, "labels", table["labels"])
    palette = tuple(tuple(int(c) for c in colour) for colour in table.get("palette", ()))
    if palette and (len(palette) != len(labels) or any(len(c) != 3 for c in palette)):
        raise DerainError(f"{path}: [{where}] palette needs one (R, G, B) per label")
    void = table.get("void")
    if void is not None and not (isinstance(void, int) and 0 <= void < len(labels)):
        raise DerainError(f"{path}: [{where}] void must be a class id below {len(labels)}")
    checkpoint = _entry(path, name, {**table, "aliases": []})
    return SegmentationEntry(
        hf_repo=None, architecture=checkpoint.architecture, options=checkpoint.options, labels=labels,
        palette=palette, void=void, preprocess=dict(table["preprocess"]),
        checkpoint=checkpoint, **common,
    )  # fmt: skip


def _plain_name(path: Path, where: str, key: str, name: str, folder: str) -> str:
    """A file name without folders (``../x`` would write or read outside ``folder``)."""
    if Path(name).name != name or name in ("", ".", "..") or "\\" in name:
        raise DerainError(f"{path}: [{where}] {key} must be a file name under {folder}, got {name!r}")
    return name
