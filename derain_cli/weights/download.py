"""Fetching a registered checkpoint: local copies first, then each source over the network, in order.

Every file is checked against its sha256 before it is returned, cached copies included. Hub sources
go through ``huggingface_hub.hf_hub_download`` (its cache, ``HF_HOME``, ``HF_HUB_OFFLINE`` and
``HF_ENDPOINT``); URL sources are streamed with urllib into ``<file>.part``, resumed with an HTTP
Range request after an interruption, and renamed into place once complete and verified.
"""

from __future__ import annotations

import os
import time
from http.client import HTTPException
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from filelock import FileLock
from huggingface_hub import hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from derain_cli import __version__
from derain_cli.errors import DerainError
from derain_cli.weights.cache import (
    LIBRARY,
    WEIGHTS_DIR_ENV,
    hub_file,
    is_offline,
    local_copies,
    mismatch,
    sha256_file,
    url_cache_path,
)
from derain_cli.weights.registry import BundledSource, HubSource, Source, UrlSource, WeightsEntry

MAX_ATTEMPTS = 8  # per URL download; attempts that receive nothing stop it after the second in a row
TIMEOUT_S = 30
# One try to reach the Hub before handing it to huggingface_hub, which on a network error retries
# for about 26 s (5 tries, 60 s timeouts) when the file is not cached: offline, fail over at once.
HUB_PROBE_TIMEOUT_S = 3
OFFLINE_HINT = "set HF_HUB_OFFLINE=1 to skip it while offline"
CHUNK = 1 << 16

_console = Console(stderr=True, soft_wrap=True)


class WeightsUnavailableError(DerainError):
    """No source gave a verified copy of a checkpoint."""


class SourceFailed(Exception):
    """One source could not provide a verified file; the message says why."""


def notice(message: str) -> None:
    """One line on stderr about a source that is skipped."""
    _console.print(f"note: {message}", markup=False, highlight=False)


# How a user supplies a deraining checkpoint by hand; loss and segmentation networks name their own option.
WEIGHTS_HINT = "pass --weights PATH"


def fetch_checkpoint(entry: WeightsEntry, *, force: bool = False, hint: str = WEIGHTS_HINT) -> Path:
    """A verified local path for ``entry``, downloading it if needed (``force``: download again).

    ``hint``: the option that supplies the file by hand instead, for the error when no source gives one.
    """
    if not entry.sources:
        raise DerainError(
            f"no public checkpoint exists for {entry.name}; "
            f"train one with `derain train --model {entry.architecture}` and pass --weights"
        )
    failures: list[tuple[str, str]] = []
    stale: set[str] = set()  # sources whose cached copy failed verification: fetched afresh
    if not force:
        for copy in local_copies(entry):
            if copy.ok:
                return copy.path
            failures.append((copy.origin, copy.problem))
            stale.add(copy.origin)
    if is_offline():
        offline = "offline (HF_HUB_OFFLINE is set) and not cached"
        failures += [(s.label, offline) for s in entry.sources if s.label not in stale]
        raise _unavailable(entry, failures, hint)
    for origin, problem in failures:
        notice(f"{origin}: {problem}")
    for index, source in enumerate(entry.sources):
        try:
            return _download(entry, source, fresh=force or source.label in stale)
        except SourceFailed as exc:
            failures.append((source.label, str(exc)))
            if index + 1 < len(entry.sources):
                notice(f"{source.label}: {exc}; trying {entry.sources[index + 1].label}")
    raise _unavailable(entry, failures, hint)


def _unavailable(entry: WeightsEntry, failures: list[tuple[str, str]], hint: str) -> WeightsUnavailableError:
    reasons = "; ".join(f"{origin}: {reason}" for origin, reason in failures)
    names = ", ".join(entry.local_filenames)
    return WeightsUnavailableError(
        f"no verified checkpoint for {entry.name} ({reasons}). Supply the file by hand: {hint}, "
        f"or put it in a folder named by ${WEIGHTS_DIR_ENV} (searched first) as one of: {names}"
    )


def _download(entry: WeightsEntry, source: Source, fresh: bool) -> Path:
    if isinstance(source, BundledSource):  # verified copies were returned before any download
        raise SourceFailed("missing or damaged in this installation (reinstall derain-cli)")
    if isinstance(source, HubSource):
        return _download_hub(source, fresh)
    return _download_url(entry, source, fresh)


def _hub_unreachable(source: HubSource) -> str | None:
    """Why the Hub cannot be reached (one HEAD request, short timeouts, no retries), or None if it answers.

    Any HTTP answer, an error status included, means it is reachable: huggingface_hub then says what is wrong.
    """
    request = Request(hf_hub_url(source.hf_repo, source.hf_file, revision=source.revision), method="HEAD",
                      headers={"User-Agent": f"{LIBRARY}/{__version__}"})  # fmt: skip
    try:
        urlopen(request, timeout=HUB_PROBE_TIMEOUT_S).close()
    except HTTPError:
        return None
    except (URLError, HTTPException, OSError) as exc:
        reason = exc.reason if isinstance(exc, URLError) else exc
        return f"the Hub is unreachable ({_first_line(reason)}); {OFFLINE_HINT}"
    return None


def _download_hub(source: HubSource, fresh: bool) -> Path:
    unreachable = _hub_unreachable(source)
    if unreachable:
        raise SourceFailed(unreachable)
    try:
        path = hub_file(source, force_download=fresh)
    except Exception as exc:  # huggingface_hub's HTTP client and its exception types vary between releases
        raise SourceFailed(_hub_reason(source, exc)) from exc
    actual = sha256_file(path)
    if actual != source.sha256:
        raise SourceFailed(mismatch(path, source.sha256, actual))
    return path


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _hub_reason(source: HubSource, exc: BaseException) -> str:
    if isinstance(exc, ValueError) and exc.__cause__ is not None:  # force_download wraps the real error
        exc = exc.__cause__
    if isinstance(exc, GatedRepoError):
        return "gated repository: accept its terms on the Hub and log in (`hf auth login`)"
    if isinstance(exc, RepositoryNotFoundError):
        return "repository not found on the Hub (not published yet, or private)"
    if isinstance(exc, RevisionNotFoundError):
        return f"revision {source.revision!r} not found"
    if isinstance(exc, LocalEntryNotFoundError):
        cause = f" ({_first_line(exc.__cause__)})" if exc.__cause__ else ""
        return f"the Hub is unreachable{cause} and the file is not in the Hugging Face cache"
    if isinstance(exc, EntryNotFoundError):
        return f"{source.hf_file} not found in the repository"
    if isinstance(exc, HfHubHTTPError):
        return f"HTTP error ({_first_line(exc)})"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _download_url(entry: WeightsEntry, source: UrlSource, fresh: bool) -> Path:
    target = url_cache_path(entry, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    with FileLock(f"{target}.lock"):
        if fresh:
            part.unlink(missing_ok=True)
        _fetch_resumable(source, part)
        actual = sha256_file(part)
        if actual != source.sha256:
            part.unlink()
            raise SourceFailed(mismatch(source.url, source.sha256, actual))
        os.replace(part, target)
    return target


def _fetch_resumable(source: UrlSource, part: Path) -> None:
    """Complete ``part`` from ``source.url``, resuming after interruptions while they make progress."""
    stalled = 0
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=_console,
    )
    task = progress.add_task(f"Downloading {source.filename}", total=None)
    try:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            before = part.stat().st_size if part.exists() else 0
            try:
                _stream(source.url, part, progress, task)
                return
            except HTTPError as exc:
                if exc.code == 416:  # nothing left past the bytes already received
                    return
                if exc.code < 500:
                    raise SourceFailed(f"HTTP {exc.code} {exc.reason}") from exc
                error: Exception = exc
            except (URLError, HTTPException, OSError) as exc:
                error = exc
            received = (part.stat().st_size if part.exists() else 0) > before
            stalled = 0 if received else stalled + 1
            if stalled == 2 or attempt == MAX_ATTEMPTS:
                kept = f"; {part} is kept and resumed next time" if part.exists() else ""
                reason = error.reason if isinstance(error, URLError) else error
                raise SourceFailed(f"download failed ({_first_line(reason)}){kept}") from error
            time.sleep(0.5 * stalled)
    finally:
        progress.stop()


def _stream(url: str, part: Path, progress: Progress, task: int) -> None:
    """One request: append to ``part`` from where it ends (or start over if the server ignores Range)."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"{LIBRARY}/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with urlopen(Request(url, headers=headers), timeout=TIMEOUT_S) as response:
        progress.start()  # shown once a server answers (a no-op when already shown)
        if offset and not (
            response.status == 206 and response.headers.get("Content-Range", "").startswith(f"bytes {offset}-")
        ):
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        progress.update(task, total=total, completed=offset)
        with part.open("ab" if offset else "wb") as handle:
            while chunk := response.read(CHUNK):
                handle.write(chunk)
                progress.advance(task, len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise ConnectionError(f"connection closed after {size} of {total} bytes")
