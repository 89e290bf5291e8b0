"""Where checkpoints live on this machine, and checking them against their sha256.

Hub sources use the Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE``); URL sources are kept in
the Hugging Face assets cache (``$HF_HOME/assets/derain-cli/<entry>/<filename>``, or
``$HF_ASSETS_CACHE``). ``$DERAIN_WEIGHTS_DIR`` holds copies supplied by hand and is searched first.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError

from derain_cli import __version__
from derain_cli.weights.registry import BundledSource, HubSource, Source, UrlSource, WeightsEntry

WEIGHTS_DIR_ENV = "DERAIN_WEIGHTS_DIR"
LIBRARY = "derain-cli"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set: no source touches the network then."""
    return constants.HF_HUB_OFFLINE


def mismatch(path: str | Path, expected: str, actual: str) -> str:
    """The message for a file whose bytes are not the registered ones."""
    return f"sha256 mismatch for {path}: expected {expected}, got {actual}"


def url_cache_path(entry: WeightsEntry, source: UrlSource) -> Path:
    """Where a URL source's file is kept once downloaded and verified."""
    return Path(constants.HF_ASSETS_CACHE) / LIBRARY / entry.name / source.filename


def hub_file(source: HubSource, **options: bool) -> Path:
    """``hf_hub_download`` of a hub source (its cache, HF_HOME, HF_HUB_OFFLINE and HF_ENDPOINT apply)."""
    path = hf_hub_download(
        source.hf_repo,
        source.hf_file,
        revision=source.revision,
        library_name=LIBRARY,
        library_version=__version__,
        **options,
    )
    return Path(path)


def hub_cached(source: HubSource) -> Path | None:
    """The Hugging Face cache's copy of a hub source (no network), or None."""
    try:
        return hub_file(source, local_files_only=True)
    except EntryNotFoundError:  # LocalEntryNotFoundError: not in the cache
        return None


def cached_copy(entry: WeightsEntry, source: Source) -> Path | None:
    """The local copy of ``source`` if one exists (unverified)."""
    if isinstance(source, BundledSource):
        return source.path if source.path.is_file() else None
    if isinstance(source, HubSource):
        return hub_cached(source)
    path = url_cache_path(entry, source)
    return path if path.is_file() else None


@dataclass(frozen=True)
class LocalCopy:
    """A copy of a checkpoint on this machine and what its bytes hash to."""

    origin: str
    path: Path
    expected: frozenset[str]
    actual: str

    @property
    def ok(self) -> bool:
        return self.actual in self.expected

    @property
    def problem(self) -> str:
        """The mismatch message ('' when the copy is good)."""
        return "" if self.ok else mismatch(self.path, " or ".join(sorted(self.expected)), self.actual)


def local_copies(entry: WeightsEntry) -> list[LocalCopy]:
    """Every copy of ``entry`` on this machine, in the order of use: ``$DERAIN_WEIGHTS_DIR``, then each source's cache."""
    if not entry.sources:  # nothing to verify a copy against
        return []
    copies = []
    folder = os.environ.get(WEIGHTS_DIR_ENV)
    if folder:
        for name in entry.local_filenames:
            path = Path(folder) / name
            if path.is_file():
                copies.append(LocalCopy(f"${WEIGHTS_DIR_ENV}", path, entry.hashes, sha256_file(path)))
        if not copies:  # a copy under another name (e.g. the file name its publisher used): known by its bytes
            by_hash = _folder_hashes(Path(folder))
            copies += [LocalCopy(f"${WEIGHTS_DIR_ENV}", by_hash[h], entry.hashes, h) for h in sorted(entry.hashes) if h in by_hash]
    for source in entry.sources:
        path = cached_copy(entry, source)
        if path is not None:
            copies.append(LocalCopy(source.label, path, frozenset({source.sha256}), sha256_file(path)))
    return copies


# Files in $DERAIN_WEIGHTS_DIR that may be checkpoints, matched by sha256 when no file has a registered name.
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt", ".bin")


def _folder_hashes(folder: Path) -> dict[str, Path]:
    """sha256 -> file, for the checkpoint files directly in ``folder`` (each file hashed once per process)."""
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in CHECKPOINT_SUFFIXES and p.is_file())
    except OSError:
        return {}
    found: dict[str, Path] = {}
    for path in files:
        stat = path.stat()
        found.setdefault(_hash_of(path, stat.st_size, stat.st_mtime_ns), path)
    return found


@functools.lru_cache(maxsize=None)
def _hash_of(path: Path, size: int, mtime_ns: int) -> str:
    """:func:`sha256_file`, remembered while the file keeps its size and time."""
    return sha256_file(path)


def cache_status(entry: WeightsEntry) -> str:
    """``yes`` (a verified copy is here), ``corrupt`` (copies, none verified), ``no``, or ``-`` (no source)."""
    if not entry.sources:
        return "-"
    copies = local_copies(entry)
    if any(copy.ok for copy in copies):
        return "yes"
    return "corrupt" if copies else "no"
