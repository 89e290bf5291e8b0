"""Deraining planned image jobs with Ray Data: read (CPU), derain in a pool of Derainer actors, write.

Every row carries its job and, once a stage fails, the one-line reason: later stages pass it on,
so one bad file never stops the others. Outputs are written atomically, as on the local path.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from derain_cli.derainer import Derainer, build_network
from derain_cli.errors import DerainError
from derain_cli.fast import resolve_precision
from derain_cli.image_batch import (
    Failure,
    Job,
    derain_loaded,
    job_failure,
    write_output,
)
from derain_cli.imageio import LoadedImage, read_image
from derain_cli.scale.cluster import WorkerPool, import_ray, user_error
from derain_cli.weights.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from derain_cli.video.ensemble import VideoEnsemble

Row = dict[str, Any]


@dataclass(frozen=True)
class ModelSettings:
    """What every worker builds its Derainer from (paths must be readable on every node)."""

    model: str = DEFAULT_MODEL
    weights: str | None = None
    tile: int | None = None
    precision: str = "auto"

    def check(self, device: str) -> None:
        """Fail here, as one line, on a bad model, checkpoint or precision, rather than in every worker.

        The network is built once on the driver's CPU: the local path's own checks and messages.
        """
        from derain_cli.video.ensemble import members

        for model in members(self.model) or [self.model]:
            build_network(model, self.weights)
        resolve_precision(self.precision, torch.device(device))

    def absolute(self) -> ModelSettings:
        """The same settings with an absolute checkpoint path, for workers on other nodes."""
        return replace(self, weights=os.path.abspath(self.weights) if self.weights else None)

    def derainer(self, device: str) -> Derainer | VideoEnsemble:
        """The model (a video ensemble for an ``a+b`` spec, which only the video path is handed)."""
        from derain_cli.video.ensemble import load_video_derainer

        return load_video_derainer(self.model, self.weights, device, self.tile, self.precision)


def _job(row: Row) -> Job:
    return Job(Path(row["source"]), Path(row["target"]))


def job_rows(jobs: list[Job]) -> list[Row]:
    """One row per job, with absolute paths: workers on other nodes do not share the driver's folder."""
    return [{"source": os.path.abspath(job.source), "target": os.path.abspath(job.target), "error": None} for job in jobs]


def guarded(row: Row, step: Callable[[Job], Any]) -> Any:
    """Run ``step`` on the row's job unless an earlier stage failed; a failure becomes the row's error."""
    if row["error"] is not None:
        return None
    job = _job(row)
    try:
        return step(job)
    except (DerainError, OSError) as exc:
        row["error"] = job_failure(job, exc).message
        return None


def _pack(image: LoadedImage | None) -> bytes | None:
    """A LoadedImage as bytes: Arrow blocks have no column type for it (Ray would warn and pickle it anyway)."""
    return None if image is None else pickle.dumps(image, protocol=pickle.HIGHEST_PROTOCOL)


def _unpack(data: bytes) -> LoadedImage:
    return pickle.loads(data)


def read_stage(row: Row) -> Row:
    """Decode one input (on a CPU task) as the local path does: EXIF, 16-bit, alpha, grayscale."""
    row["image"] = _pack(guarded(row, lambda job: read_image(job.source)))
    return row


class DerainStage:
    """An actor holding one Derainer: the model is loaded once and reused for every image it gets.

    With ``quality`` it also writes each result (CPU workers: nothing then crosses processes).
    """

    def __init__(self, settings: ModelSettings, device: str, quality: int | None = None) -> None:
        self.derainer = settings.derainer(device)
        self.quality = quality

    def __call__(self, row: Row) -> Row:
        row["image"] = _pack(guarded(row, lambda job: derain_loaded(self.derainer, _unpack(row["image"]))))
        return row if self.quality is None else write_stage(row, self.quality)


def write_stage(row: Row, quality: int) -> Row:
    """Write the derained image under a temporary name and rename it; the row keeps only the outcome."""
    guarded(row, lambda job: write_output(job, _unpack(row["image"]), quality))
    return {"source": row["source"], "target": row["target"], "error": row["error"]}


def image_pipeline(jobs: list[Job], settings: ModelSettings, pool: WorkerPool, quality: int) -> Any:
    """The Ray Dataset that derains ``jobs``: one outcome row (source, target, error) per job."""
    ray = import_ray()
    rows = job_rows(jobs)
    # One block per file: each image is scheduled on its own, so every worker stays busy.
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
    # Reading takes one CPU. CPU workers (one CPU each too) get it fused in by Ray Data and write
    # their results themselves: each reads, derains and writes its own files. GPU workers (no CPU)
    # are fed by CPU tasks that decode, and feed CPU tasks that encode, while the GPUs derain.
    on_cpu = pool.device == "cpu"
    dataset = dataset.map(read_stage, num_cpus=1)
    dataset = dataset.map(
        DerainStage,
        fn_constructor_args=(settings.absolute(), pool.device, quality if on_cpu else None),
        compute=ray.data.ActorPoolStrategy(size=min(pool.size, len(jobs))),
        num_cpus=pool.num_cpus,
        num_gpus=pool.num_gpus,
    )
    if not on_cpu:
        dataset = dataset.map(write_stage, fn_kwargs={"quality": quality}, num_cpus=1)
    return dataset


def run_ray_jobs(
    jobs: list[Job],
    settings: ModelSettings,
    pool: WorkerPool,
    quality: int = 95,
    on_done: Callable[[Job, Failure | None], None] | None = None,
) -> list[Failure]:
    """Process every job on the connected Ray cluster; returns the failures (also passed to ``on_done``)."""
    if not jobs:
        return []
    return collect(partial(image_pipeline, jobs, settings, pool, quality), jobs, on_done)


def collect(
    build: Callable[[], Any], jobs: list[Job], on_done: Callable[[Job, Failure | None], None] | None
) -> list[Failure]:
    """Run the pipeline ``build`` makes and stream its outcomes, reported against the planned ``jobs``.

    A worker's own DerainError (a bad model or device) ends the run as one line.
    """
    planned = {os.path.abspath(job.source): job for job in jobs}
    failures: list[Failure] = []
    try:
        for row in build().iter_rows():
            job = planned[row["source"]]
            failure = Failure(str(job.source), row["error"]) if row["error"] is not None else None
            if failure:
                failures.append(failure)
            if on_done:
                on_done(job, failure)
    except Exception as exc:
        cause = user_error(exc)
        if cause is not None:
            raise cause from None
        if isinstance(exc, import_ray().exceptions.RayError):  # e.g. a worker that could not start
            lines = [line for line in str(exc).splitlines() if line.strip()]
            raise DerainError(f"the Ray run failed: {lines[-1].strip() if lines else type(exc).__name__}") from exc
        raise
    return failures
