"""Rich progress bars with a throughput column, shared by the batch commands."""

from __future__ import annotations

from collections.abc import Callable

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


def progress_bar(unit: str, quiet: bool = False) -> Progress:
    """A progress bar on stderr: description, bar, n/N, rate, elapsed, ETA; hidden with ``quiet``."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
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
