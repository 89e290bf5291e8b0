"""Deraining several videos in one run: their output names, and which ones to refuse or skip."""

from __future__ import annotations

from pathlib import Path

from derain_cli.errors import DerainError
from derain_cli.image_batch import Failure, Job, job_failure
from derain_cli.video.pipeline import VideoOutput, check_outputs

BATCH_SUFFIX = ".mp4"


def plan_videos(
    sources: list[Path], output: Path, overwrite: bool, skip_existing: bool = False
) -> tuple[list[Job], list[Failure], list[Job]]:
    """One source: ``output`` is its file; several: ``output`` is a folder receiving NAME.mp4 for each.

    Returns (jobs to run, refusals, jobs skipped because ``skip_existing`` counts their output as finished).
    """
    jobs: list[Job] = []
    failures: list[Failure] = []
    skipped: list[Job] = []
    claimed: dict[Path, Path] = {}
    for source in sources:
        name = source.stem if source.is_file() else source.name  # a video file, or a folder of frames
        job = Job(source, output if len(sources) == 1 else output / f"{name}{BATCH_SUFFIX}")
        key = job.target.resolve()
        if key in claimed:
            failures.append(Failure(str(source), f"output {job.target} is already the output of {claimed[key]}"))
            continue
        claimed[key] = source
        if skip_existing and job.target.is_file() and key != source.resolve():
            skipped.append(job)
            continue
        try:
            check_outputs(source, [VideoOutput(job.target)], overwrite)
        except DerainError as exc:
            failures.append(job_failure(job, exc))
            continue
        jobs.append(job)
    return jobs, failures, skipped
