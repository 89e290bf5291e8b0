"""The one progress reporter of the batch commands: a rich bar on a terminal, plain lines elsewhere.

Without a terminal (CI logs, ``nohup``, a pipe) rich draws nothing until the end, so a long run
looks dead: there each task prints a plain line when it passes another tenth of its total, at
least every :data:`PLAIN_EVERY_S` seconds while it runs (even inside one long step), and when done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from derain_cli.cli.app import console, debug_enabled, error, print_traceback

if TYPE_CHECKING:
    from derain_cli.image_batch import Failure, Job


class RateColumn(ProgressColumn):
    """Items per second, e.g. ``0.42 img/s``."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        rate = task.completed / elapsed if elapsed else 0.0
        return Text(f"{rate:.2f} {self.unit}/s", style="progress.data.speed")


PLAIN_EVERY_S = 30.0
PLAIN_STEPS = 10  # a line per tenth of the total


@dataclass
class _Shown:
    """Where a task stood at its last plain line (or when it began)."""

    total: float | None
    completed: float
    step: int
    at: float
    lines: int = 0
    done: bool = False


class Reporter(Progress):
    """A rich :class:`Progress` that, without a terminal, reports in plain lines at a bounded rate."""

    def __init__(self, *columns: Any, unit: str, quiet: bool, **options: Any) -> None:
        self.plain = not quiet and not console.is_terminal
        super().__init__(*columns, console=console, disable=quiet or self.plain, **options)
        self.unit = unit
        self._shown: dict[TaskID, _Shown] = {}
        self._line_lock = threading.Lock()
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self) -> None:
        super().start()
        if self.plain and self._ticker is None:
            self._stopping.clear()
            self._ticker = threading.Thread(target=self._tick, name="progress-lines", daemon=True)
            self._ticker.start()

    def stop(self) -> None:
        self._stopping.set()
        super().stop()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None

    @property
    def quiet(self) -> bool:
        """True when nothing but errors is to be shown (``--quiet``)."""
        return self.disable and not self.plain

    def add_task(self, description: str, *args: Any, **kwargs: Any) -> TaskID:
        task_id = super().add_task(description, *args, **kwargs)
        with self._line_lock:
            self._shown[task_id] = _Shown(self._tasks[task_id].total, 0, 0, time.monotonic())
        return task_id

    def update(self, task_id: TaskID, **changes: Any) -> None:
        super().update(task_id, **changes)
        self._maybe_line(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._maybe_line(task_id)

    def _tick(self) -> None:
        """The 30-second line for tasks that have not moved (one long step, a slow first image)."""
        while not self._stopping.wait(min(1.0, PLAIN_EVERY_S)):
            for task_id in list(self._shown):
                self._maybe_line(task_id)

    def _maybe_line(self, task_id: TaskID) -> None:
        if not self.plain:
            return
        with self._line_lock:
            task, shown, now = self._tasks[task_id], self._shown[task_id], time.monotonic()
            total, completed = task.total, task.completed
            step = int(PLAIN_STEPS * completed / total) if total else 0
            if total != shown.total or completed < shown.completed:  # a new phase (online-update)
                self._shown[task_id] = _Shown(total, completed, step, now)
                return
            shown.completed = completed
            finished = total is not None and completed >= total
            first = shown.lines == 0 and completed > 0  # the first sign of life
            if shown.done or not (first or finished or step > shown.step or now - shown.at >= PLAIN_EVERY_S):
                return
            shown.step, shown.at, shown.lines, shown.done = step, now, shown.lines + 1, finished
            self.console.print(self._line(task), markup=False, highlight=False)

    def _line(self, task: Task) -> str:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed else 0.0
        done = f"{task.completed:g}"
        if task.total:
            done += f"/{task.total:g} ({100 * task.completed / task.total:.0f} %)"
        return f"{task.description}: {done}, {rate:.2f} {self.unit}/s, {elapsed:.0f} s"


def progress_bar(unit: str, quiet: bool = False) -> Reporter:
    """The progress reporter on stderr: description, bar, n/N, rate, elapsed, ETA; hidden with ``quiet``."""
    return Reporter(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        unit=unit,
        quiet=quiet,
        transient=False,
    )


def report_failure(job: Job, failure: Failure | None) -> None:
    """A failed job in one line (its traceback with --debug); nothing for a success."""
    if failure:
        if failure.exception and debug_enabled():
            print_traceback(failure.exception)
        error(f"{failure.source}: {failure.message}")


def job_reporter(progress: Progress, task: TaskID) -> Callable[[Job, Failure | None], None]:
    """The per-image callback of a batch: report a failure, then advance the bar."""

    def on_done(job: Job, failure: Failure | None) -> None:
        report_failure(job, failure)
        progress.advance(task)

    return on_done
