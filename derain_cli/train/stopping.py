"""A training run asked to stop by SIGTERM or SIGHUP (a scheduler's time limit, `timeout`, a closed terminal)
finishes the step under way and saves it, instead of losing every step since its last checkpoint."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from derain_cli.errors import DerainError

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@dataclass
class StopRequest:
    """The signal received while training, if any."""

    signum: int | None = None


@contextmanager
def stop_requests(enabled: bool = True) -> Iterator[StopRequest]:
    """Record SIGTERM/SIGHUP in the yielded request instead of dying at once; the previous handlers come back
    on exit. Off (nothing caught) outside the main thread or when not ``enabled`` (a torchrun process: its
    peers would wait for it in their next collective)."""
    request = StopRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return

    def note(signum: int, frame: object) -> None:
        request.signum = signum

    previous = {signum: signal.signal(signum, note) for signum in SIGNALS}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def ignore_in_workers(worker_id: int) -> None:
    """A DataLoader worker's start: it ignores SIGTERM/SIGHUP, which often reach a whole process group (a job's
    kill, a closed terminal), so that the main process, not a dead worker, decides: it saves, then stops them."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


class TrainingStopped(DerainError):
    """The run stopped on a signal after saving its checkpoint; the exit code is the signal's (128 + number)."""

    def __init__(self, run: Path, signum: int, step: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"{run}: stopped by {name} after step {step}, saved; `derain train --resume -o {run}` continues")
        self.exit_code = 128 + signum
