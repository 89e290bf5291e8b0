"""Threads joined by bounded queues, with one stop switch: the plumbing that lets decoding, inference
and encoding overlap, and lets Ctrl-C or a failure in any stage stop them all promptly."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

END = object()  # put after a stage's last item
_POLL_S = 0.1


class Stages:
    """Runs stage functions in daemon threads; the first failure stops every stage."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []

    def queue(self, size: int) -> queue.Queue[Any]:
        return queue.Queue(maxsize=size)

    def put(self, q: queue.Queue[Any], item: object) -> bool:
        """Put ``item``, waiting for room; False if the run was stopped meanwhile."""
        while not self.stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def get(self, q: queue.Queue[Any]) -> object:
        """The next item, or END once the run is stopped."""
        while not self.stop.is_set():
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        return END

    def run(self, stages: list[tuple[str, Callable[[], None]]], on_interrupt: Callable[[], None] | None = None) -> None:
        """Run the stages in threads until all have ended; raise the first stage error.

        On Ctrl-C: stop all stages, call ``on_interrupt`` and wait until they have ended, in the
        order given (put last a stage that may be busy for long, such as a forward pass: it cannot
        be cut short, and a thread left inside torch aborts the interpreter at exit), then re-raise.
        A second Ctrl-C stops the waiting.
        """
        try:
            for name, stage in stages:
                self._start(name, stage)
            self._join()
        except KeyboardInterrupt:
            self.stop.set()
            if on_interrupt:
                on_interrupt()
            self._join()
            raise
        if self.errors:
            raise self.errors[0]

    def _start(self, name: str, stage: Callable[[], None]) -> None:
        def run() -> None:
            try:
                stage()
            except BaseException as exc:  # noqa: BLE001  (handed to the main thread by run())
                self.errors.append(exc)
                self.stop.set()

        thread = threading.Thread(target=run, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _join(self) -> None:
        for thread in self._threads:
            while thread.is_alive():  # False for a thread not started yet
                thread.join(_POLL_S)
