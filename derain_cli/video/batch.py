"""Deraining several videos in one run: their output names, and which ones to refuse or skip."""

from __future__ import annotations

from pathlib import Path

from derain_cli.errors import DerainError
from derain_cli.fsutil import FileSet, is_finished
from derain_cli.image_batch import Failure, Job, job_failure
from derain_cli.video.pipeline import VideoOutput, check_outputs

BATCH_SUFFIX = ".mp4"


def overlay_video_path(output: Path) -> Path:
    """``out.mp4`` -> ``out.seg.mp4`` (same folder and container): where ``--segment`` writes its overlay clip."""
    return output.with_name(f"{output.stem}.seg{output.suffix}")


def plan_videos(
    sources: list[Path], output: Path, overwrite: bool, skip_existing: bool = False, overlay: bool = False
) -> tuple[list[Job], list[Failure], list[Job]]:
    """One source: ``output`` is its file; several: ``output`` is a folder receiving NAME.mp4 for each.

    Every output of every job (with ``overlay``, NAME.seg.mp4 too) is checked against every input
    before anything is written: an input is never an output, ``overwrite`` or not.
    Returns (jobs to run, refusals, jobs skipped because ``skip_existing`` counts their output as finished).
    """
    inputs = FileSet(sources)
    jobs: list[Job] = []
    failures: list[Failure] = []
    skipped: list[Job] = []
    claimed: dict[Path, Path] = {}
    for source in sources:
        name = source.stem if source.is_file() else source.name  # a video file, or a folder of frames
        job = Job(source, output if len(sources) == 1 else output / f"{name}{BATCH_SUFFIX}")
        paths = [job.target, overlay_video_path(job.target)] if overlay else [job.target]
        clash = next((path for path in paths if path.resolve() in claimed), None)
        if clash is not None:
            failures.append(Failure(str(source), f"output {clash} is already the output of {claimed[clash.resolve()]}"))
            continue
        claimed.update((path.resolve(), source) for path in paths)
        try:
            check_outputs(inputs, [VideoOutput(path) for path in paths], overwrite or skip_existing)
        except DerainError as exc:
            failures.append(job_failure(job, exc))
            continue
        if skip_existing and any(path.exists() for path in paths):
            unfinished = [path for path in paths if not is_finished(path)]
            if not unfinished:
                skipped.append(job)
            else:  # an empty file (or half of the pair) is not a finished output
                failures.append(Failure(str(source), f"{unfinished[0]}: missing or empty, not a finished output; "
                                        "remove this input's outputs to redo it"))  # fmt: skip
            continue
        jobs.append(job)
    return jobs, failures, skipped
