"""Named data sets (``datasets.toml`` beside ``weights.toml``): a name resolves to a folder under the data root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from derain_cli.errors import DerainError, UsageError
from derain_cli.tomlfile import read_toml

# The copy packaged beside this module (a link to the repository's file; wheels carry a copy), else the repository's.
_PACKAGED = Path(__file__).with_name("datasets.toml")
REGISTRY_FILE = _PACKAGED if _PACKAGED.is_file() else Path(__file__).resolve().parents[2] / "datasets.toml"


@dataclass(frozen=True)
class DatasetEntry:
    """One named set: where it lives under the data root, how it is laid out, and where it is published."""

    name: str
    title: str
    split: str
    pairs: int
    folder: str
    layout: str
    published: str


def data_root() -> Path:
    """``$DERAIN_DATA``, else ``$XDG_CACHE_HOME/derain/data`` (default ``~/.cache/derain/data``)."""
    if os.environ.get("DERAIN_DATA"):
        return Path(os.environ["DERAIN_DATA"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return cache / "derain" / "data"


def load_registry(path: Path = REGISTRY_FILE) -> dict[str, DatasetEntry]:
    """Every entry of the registry file, by name."""
    table = read_toml(path)
    try:
        return {name: DatasetEntry(name=name, **fields) for name, fields in table.items()}
    except TypeError as exc:
        raise DerainError(f"{path}: malformed entry ({exc})") from None


def resolve_dataset(
    name_or_dir: str | os.PathLike[str], registry: dict[str, DatasetEntry] | None = None, option: str = "--dataset"
) -> Path:
    """A folder given directly, or the folder a registered name resolves to under :func:`data_root`.

    ``option``: the command-line option that named it, for the error message.
    A registered set that is not there raises an error saying where it is published, the layout to
    unpack it into and the path looked in.
    """
    given = Path(name_or_dir).expanduser()
    if given.is_dir():
        return given
    registry = load_registry() if registry is None else registry
    entry = registry.get(str(name_or_dir).lower())
    if entry is None:
        raise UsageError(
            f"{option} {name_or_dir}: neither a folder nor a known data set (known: {', '.join(sorted(registry))})"
        )
    folder = data_root() / entry.folder
    if not folder.is_dir():
        raise DerainError(
            f"data set {entry.name} ({entry.title}) is not in {folder}: it is published at {entry.published}; "
            f"unpack it there in the layout {entry.layout} (or set DERAIN_DATA to the folder that holds {entry.folder}/)"
        )
    return folder
