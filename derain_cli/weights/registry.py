"""weights.toml: the named checkpoints derain-cli can fetch, where from, and what they measure.

The file is looked up in this order: ``$DERAIN_WEIGHTS_TOML``; the copy packaged beside this module
(``derain_cli/weights/weights.toml``, a link to the repository's file that wheels carry as a copy);
the repository root (``Path(derain_cli.__file__).parents[1] / "weights.toml"``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import derain_cli
from derain_cli.errors import DerainError, UsageError
from derain_cli.tomlfile import read_toml

TOML_ENV = "DERAIN_WEIGHTS_TOML"
PACKAGED_TOML = Path(__file__).with_name("weights.toml")
REPO_TOML = Path(derain_cli.__file__).resolve().parents[1] / "weights.toml"
_SHA256 = re.compile(r"[0-9a-f]{64}")
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


Source = Union[HubSource, UrlSource]


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
    """A segmentation model on the Hugging Face Hub (used by the downstream-task commands)."""

    name: str
    hf_repo: str
    revision: str
    description: str
    licence: str
    default: bool


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
    models = {name: _entry(path, name, table) for name, table in data.get("models", {}).items()}
    taken = set(models)
    for entry in models.values():
        for alias in entry.aliases:
            if alias in taken:
                raise DerainError(f"{path}: name {alias!r} is used twice")
            taken.add(alias)
    segmentation = {name: _segmentation(path, name, t) for name, t in data.get("segmentation", {}).items()}
    return Registry(path, models, segmentation)


def _field(path: Path, where: str, table: dict[str, Any], key: str, kind: type = str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind):
        raise DerainError(f"{path}: [{where}] needs {key!r} ({kind.__name__})")
    return value


def _source(path: Path, where: str, table: dict[str, Any]) -> Source:
    sha = _field(path, where, table, "sha256")
    if not _SHA256.fullmatch(sha):
        raise DerainError(f"{path}: [{where}] sha256 must be 64 lowercase hex digits")
    if "hf_repo" in table:
        return HubSource(
            _field(path, where, table, "hf_repo"),
            _field(path, where, table, "hf_file"),
            table.get("revision", "main"),
            sha,
        )
    if "url" in table:
        return UrlSource(_field(path, where, table, "url"), _field(path, where, table, "filename"), sha)
    raise DerainError(f"{path}: [{where}] a source needs 'hf_repo' or 'url'")


def _entry(path: Path, name: str, table: dict[str, Any]) -> WeightsEntry:
    where = f"models.{name}"
    scores = {key: _score(table.get(key)) for key in SCORE_SETS}
    return WeightsEntry(
        name=name,
        architecture=_field(path, where, table, "architecture"),
        options=dict(table.get("options", {})),
        description=table.get("description", ""),
        trained_on=table.get("trained_on", ""),
        licence=table.get("licence", "none stated"),
        attribution=table.get("attribution", ""),
        aliases=tuple(table.get("aliases", ())),
        sources=tuple(_source(path, f"{where}.sources", s) for s in table.get("sources", ())),
        claim=table.get("claim", ""),
        **scores,
    )


def _score(table: dict[str, Any] | None) -> Score | None:
    return Score(table.get("psnr"), table.get("ssim"), table.get("command", "")) if table else None


def _segmentation(path: Path, name: str, table: dict[str, Any]) -> SegmentationEntry:
    where = f"segmentation.{name}"
    return SegmentationEntry(
        name=name,
        hf_repo=_field(path, where, table, "hf_repo"),
        revision=table.get("revision", "main"),
        description=table.get("description", ""),
        licence=table.get("licence", "none stated"),
        default=bool(table.get("default", False)),
    )
