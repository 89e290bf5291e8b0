"""Committing outputs: written under a temporary name, then put in place whole, never over a file by accident.

Every file derain-cli writes goes through :func:`atomic_output`. The temporary name is short and
fixed-length (a name that is valid for the output is valid for it) and keeps only the output's
suffix, so writers that infer a format from it still can. Without ``overwrite`` the final name is
created by a hard link, which fails when the name exists: two runs writing the same name cannot
replace each other's files. Partial files are removed when the block fails (Ctrl-C included), on
SIGTERM and SIGHUP, and, when left by a process that was killed outright, by the next run that
writes into the same folder.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import signal
import socket
import tempfile
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from derain_cli.errors import DerainError

_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]  # partials of other machines are never swept
_PARTIAL = re.compile(r"^\.derain-partial-(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[0-9a-f]{8}(\.[^.]{1,15})?$")
_MAX_SUFFIX = 16
# Hard links unsupported (FAT, some network file systems): fall back to an exclusive placeholder.
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}

_pending: set[Path] = set()  # partial files (and placeholders) of this process, removed on TERM/HUP
_swept: set[Path] = set()  # folders already cleared of dead processes' partials


def partial_path(target: Path) -> Path:
    """A hidden, unique temporary name beside ``target`` with its suffix (short suffixes only)."""
    suffix = target.suffix if len(target.suffix) <= _MAX_SUFFIX else ""
    return target.with_name(f".derain-partial-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}{suffix}")


class FileSet:
    """The files a run reads: an output naming one of them (by another path, a symbolic or a hard link) is refused."""

    def __init__(self, paths: Iterable[Path]) -> None:
        paths = list(paths)
        self._names = {path.resolve() for path in paths}
        self._inodes = {key for key in map(_inode, paths) if key is not None}

    def __contains__(self, path: Path) -> bool:
        return path.resolve() in self._names or _inode(path) in self._inodes


def is_finished(path: Path) -> bool:
    """An output ``--skip-existing`` counts as done: a regular file holding something (a 0-byte file is not)."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size > 0


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep_stale_partials(folder: Path) -> list[Path]:
    """Remove the partial files in ``folder`` left by dead processes of this machine (killed with SIGKILL)."""
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _PARTIAL.match(name)
        if match and match["host"] == _HOST and not _alive(int(match["pid"])):
            path = folder / name
            try:
                path.unlink()
            except OSError:
                continue
            removed.append(path)
    return removed


def _on_signal(signum: int, frame: object) -> None:
    """Remove this process's partial files, then die of the signal as if it had not been caught."""
    for path in list(_pending):
        try:
            path.unlink()
        except OSError:
            pass
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _clean_up_on_signals() -> None:
    """Catch SIGTERM and SIGHUP where they would kill the process outright (a host's own handlers are kept)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _on_signal)


def _exists(target: Path) -> DerainError:
    return DerainError(f"{target}: already exists (another run wrote it meanwhile?); not replaced")


def _commit(tmp: Path, target: Path, overwrite: bool) -> None:
    """Put ``tmp`` in place as ``target``; without ``overwrite`` fail, atomically, if ``target`` exists."""
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise _exists(target) from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        _commit_without_links(tmp, target)
    else:
        tmp.unlink()


def _commit_without_links(tmp: Path, target: Path) -> None:
    _pending.add(target)
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except FileExistsError:
        _pending.discard(target)
        raise _exists(target) from None
    try:
        os.replace(tmp, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        _pending.discard(target)


@contextmanager
def atomic_output(target: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; put it in place as ``target`` only if the block succeeds.

    Without ``overwrite``, an existing ``target`` (even one created while the block ran) is kept and
    DerainError is raised. On any failure the temporary file is removed and ``target`` is untouched.
    OS errors name ``target``, never the temporary file.
    """
    target = Path(target)
    folder = target.parent
    if folder not in _swept:
        sweep_stale_partials(folder)
        _swept.add(folder)
    _clean_up_on_signals()
    tmp = partial_path(target)
    _pending.add(tmp)
    try:
        yield tmp
        _commit(tmp, target, overwrite)
    except OSError as exc:
        if exc.filename is None or Path(exc.filename) not in (tmp, target):
            raise
        raise DerainError(f"{target}: cannot write ({exc.strerror or exc})") from None
    finally:
        _pending.discard(tmp)
        tmp.unlink(missing_ok=True)


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and check a file can be written in it: before hours of work, not after."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise DerainError(f"{folder}: cannot write there ({exc.strerror or exc})") from None


def write_atomic(target: str | os.PathLike[str], data: bytes | memoryview, overwrite: bool = False) -> Path:
    """Write ``data`` as ``target`` whole or not at all; any OS error (a full disk) is one line naming ``target``."""
    target = Path(target)
    try:
        with atomic_output(target, overwrite) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:  # a failed write() names no file
        raise DerainError(f"{target}: cannot write ({exc.strerror or exc})") from None
    return target
