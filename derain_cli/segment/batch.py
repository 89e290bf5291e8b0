"""`derain image --segment`: plan the segmentation outputs of a batch and write them after each image."""

from __future__ import annotations

from collections.abc import Callable

from derain_cli.image_batch import Failure, Job
from derain_cli.imageio import LoadedImage
from derain_cli.segment.files import SegmentationPaths, write_segmentation
from derain_cli.segment.model import Segmenter


def plan_segmentation(jobs: list[Job], with_json: bool, overwrite: bool) -> tuple[list[Job], list[Failure]]:
    """Refuse jobs whose segmentation outputs are another job's input or output, or exist (without overwrite)."""
    claimed = {job.source.resolve() for job in jobs} | {job.target.resolve() for job in jobs}
    kept: list[Job] = []
    failures: list[Failure] = []
    for job in jobs:
        paths = SegmentationPaths.beside(job.target, with_json).all()
        clash = next((p for p in paths if p.resolve() in claimed), None)
        existing = next((p for p in paths if p.exists()), None)
        if clash is not None:
            failures.append(Failure(str(job.source), f"segmentation output {clash} is an input or output of this run"))
        elif existing is not None and not overwrite:
            failures.append(Failure(str(job.source), f"output {existing} already exists; pass --overwrite to replace it"))
        else:
            claimed.update(p.resolve() for p in paths)
            kept.append(job)
    return kept, failures


def segmentation_step(segmenter: Segmenter, with_json: bool, overwrite: bool = False) -> Callable[[Job, LoadedImage], None]:
    """A per-job step that segments the derained image and writes its outputs beside the job's target."""

    def step(job: Job, derained: LoadedImage) -> None:
        write_segmentation(segmenter, derained, SegmentationPaths.beside(job.target, with_json), overwrite)

    return step
