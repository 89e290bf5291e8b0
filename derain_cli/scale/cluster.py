"""Joining or starting Ray, and sizing the pool of Derainer workers for a ``--ray`` run."""

from __future__ import annotations

import logging
import os
import re
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import ModuleType

from derain_cli.devices import resolve_device
from derain_cli.errors import DerainError, UsageError


CONNECT_TIMEOUT_S = 5.0  # to reach a Ray head given as HOST:PORT
JOIN_TIMEOUT_S = 30.0  # for Ray to join a reachable head (a real one answers within a second)


@dataclass(frozen=True)
class RaySettings:
    """Where and how wide a run goes.

    ``address``: None starts a local Ray instance (or joins ``$RAY_ADDRESS``, as Ray does); ``auto``
    joins the cluster this machine belongs to, ``HOST:6379`` the one with that head (Ray Client's
    ``ray://`` addresses are refused: Ray Data cannot execute through it).
    ``workers``: Derainers in the pool (default: one per CPU, or one per ``gpus_per_worker`` of GPU
    with CUDA); the local instance gets that many CPUs. ``gpus_per_worker``: the GPU share of each
    worker with CUDA (0.5: two Derainers per GPU). ``progress``: Ray Data's progress bars (on a terminal).
    ``ray_logs``: Ray's own log lines (start-up, execution plans, its C++ core's warnings, the workers' output);
    off, a run that succeeds prints only derain's lines, and a failing image is still reported by derain.
    """

    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float = 1.0
    progress: bool = True
    ray_logs: bool = False


@dataclass(frozen=True)
class WorkerPool:
    """The Derainer actors to start: how many, on which device, with which Ray resources each."""

    device: str  # "cpu" or "cuda" (Ray gives each actor its GPUs through CUDA_VISIBLE_DEVICES)
    size: int
    num_cpus: float
    num_gpus: float


def import_ray() -> ModuleType:
    """The ``ray`` module, or a usage error naming the extra that installs it."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data ships in the ray[data] extra)
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'derain-cli[ray]'") from None
    return ray


@contextmanager
def ray_session(settings: RaySettings) -> Iterator[ModuleType]:
    """Use the Ray instance this process is already connected to, or start/join one and leave it after."""
    ray = import_ray()
    address = settings.address or os.environ.get("RAY_ADDRESS")
    if address and address.startswith("ray://"):
        # Ray Data's executor needs a process of the cluster (it fails from a Ray Client, Ray 2.60).
        raise UsageError(
            f"{address}: Ray Data cannot run through Ray Client; run derain on a node of the cluster with "
            "--ray-address auto (or submit it there with `ray job submit`)"
        )
    level = logging.INFO if settings.ray_logs else logging.ERROR
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(level)
    # Without a terminal Ray Data "logs progress" instead: a dozen lines per run; derain prints the summary.
    ray.data.DataContext.get_current().enable_progress_bars = settings.progress and sys.stderr.isatty()
    with ExitStack() as stack:
        if not settings.ray_logs:
            stack.enter_context(_without_core_log_lines())
        if ray.is_initialized():
            yield ray
            return
        options = {"include_dashboard": False, "logging_level": level, "log_to_driver": settings.ray_logs}
        if address:
            check_reachable(address)
            _join_within(JOIN_TIMEOUT_S, address, lambda: ray.init(address=address, **options))
        else:
            # "local": a new instance even when `ray start` left one running on this machine.
            ray.init(address="local", num_cpus=settings.workers or os.cpu_count() or 1, **options)
        try:
            yield ray
        finally:
            ray.shutdown()


# A line of Ray's C++ core: "[2026-12-04 10:28:44,870 E 28640 28640] core_worker.cc:2465: ...".
_CORE_LOG_LINE = re.compile(rb"^\[\d{4}-\d\d-\d\d [\d:,.]+ [A-Z] \d+ \d+\] ")


@contextmanager
def _without_core_log_lines() -> Iterator[None]:
    """Keep Ray's C++ core log lines off stderr, passing everything else through unchanged.

    The core writes them straight to file descriptor 2 (no logging level of Python reaches it; its own level
    variable prints a line of its own), e.g. an error-level note on every Ray Data run whose actors may restart.
    Descriptor 2 goes through a pipe meanwhile; a thread forwards all but those lines, up to each \\n or \\r.
    """
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward() -> None:
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                pending += chunk
                *lines, pending = re.split(rb"(?<=[\n\r])", pending)
                for line in lines:
                    if not _CORE_LOG_LINE.match(line):
                        os.write(original, line)
        if pending and not _CORE_LOG_LINE.match(pending):
            os.write(original, pending)

    thread = threading.Thread(target=forward, name="ray-core-log-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # Ray's own processes hold the pipe until they end: the thread then drains it
        thread.join(timeout=5)
        os.close(original)


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse, within ``timeout`` seconds, a HOST:PORT where nothing accepts connections.

    Ray itself retries an unreachable head for minutes, deaf to SIGTERM; ``auto`` (found through this
    machine's Ray session files) is left to Ray, which fails at once when there is none.
    """
    if address in ("auto", "local"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--ray-address {address!r}: expected auto or HOST:PORT of a Ray head (such as 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise DerainError(
            f"--ray-address {address}: no Ray head answers there ({reason}); start one with `ray start --head` or fix the address"
        ) from None


def _join_within(timeout: float, address: str, join: Callable[[], object]) -> None:
    """Run ``join`` (``ray.init``) with a deadline, and let SIGTERM, SIGHUP and SIGINT end the process meanwhile.

    Ray blocks the main thread in its own C++ retries (a port that accepts but is no Ray head holds it for
    minutes), where Python signal handlers never run. Python's C-level handler still writes each signal
    to the wakeup file descriptor, so a watcher thread reads them there and ends the process with one
    line, on a signal or past the deadline (nothing has been written yet).
    """
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        join()
        return
    signals = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    done = threading.Event()
    reader, writer = socket.socketpair()
    writer.setblocking(False)

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not done.is_set():
            if select.select([reader], [], [], 0.1)[0]:
                caught = reader.recv(1)
                if caught and caught[0] in signals:
                    _leave(f"interrupted while joining the Ray cluster at {address}", 128 + caught[0])
            if time.monotonic() > deadline and not done.is_set():
                _leave(f"--ray-address {address}: no Ray head answered within {timeout:g} s (is it a Ray head's GCS port?)", 1)

    previous = {signum: signal.signal(signum, _noted) for signum in signals}
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    watcher = threading.Thread(target=watch, name="ray-join-watch", daemon=True)
    watcher.start()
    try:
        join()
    finally:
        done.set()
        watcher.join()
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous.items():
            if signal.getsignal(signum) is _noted:  # Ray may have installed its own meanwhile: keep it
                signal.signal(signum, handler)
        reader.close()
        writer.close()


def _noted(signum: int, frame: object) -> None:
    """Python's part of a signal while joining Ray: nothing (the watcher thread acts on it)."""


def _leave(message: str, status: int) -> None:
    """End the process now from a thread (the main one is stuck inside Ray), after one line on stderr."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    os._exit(status)


def plan_pool(resources: dict[str, float], device: str, settings: RaySettings) -> WorkerPool:
    """Check ``device`` against the cluster's ``resources`` (``ray.cluster_resources()``) and size the pool.

    CPU workers hold one CPU each (torch then runs one thread, as Ray sets OMP_NUM_THREADS); GPU
    workers hold their GPU share and no CPU, which stays for the tasks that decode and encode.
    """
    gpus = resources.get("GPU", 0.0)
    name = device.strip().lower()
    if name == "auto":
        name = "cuda" if gpus else "cpu"
    if name.startswith("cuda:"):
        raise UsageError(f"device {device!r} with --ray: Ray assigns each worker its GPU; use --device cuda")
    if name == "cuda":
        if not gpus:
            raise UsageError("device 'cuda' requested but the Ray cluster has no GPU; use --device cpu or auto")
        share = settings.gpus_per_worker
        if share <= 0 or (share > 1 and share != int(share)):
            raise UsageError(f"--gpus-per-worker must be a fraction in (0, 1] or a whole number, got {share}")
        return WorkerPool("cuda", settings.workers or max(1, int(gpus / share)), 0.0, share)
    resolve_device(name)  # "cpu", or the usual error for an unknown name
    return WorkerPool("cpu", settings.workers or max(1, int(resources.get("CPU", 1))), 1.0, 0.0)


def user_error(exc: BaseException) -> DerainError | None:
    """The DerainError a worker raised, found inside Ray's wrappers (None if it was something else)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DerainError) and not type(current).__module__.startswith("ray"):
            return current
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__
    return None
