"""Deraining many videos with Ray Data: one task per file (its frames stay in order), files in parallel."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from derain_cli.image_batch import Failure, Job
from derain_cli.scale.cluster import WorkerPool, import_ray
from derain_cli.scale.images import ModelSettings, Row, collect, guarded, job_rows
from derain_cli.video import FrameLayout, VideoOptions, VideoOutput, derain_video


class VideoStage:
    """An actor holding one Derainer that derains whole videos, one after another, each written atomically."""

    def __init__(self, settings: ModelSettings, device: str, options: VideoOptions, layout: FrameLayout) -> None:
        self.derainer = settings.derainer(device)
        self.options = options
        self.layout = layout

    def __call__(self, row: Row) -> Row:
        outputs = [VideoOutput(Path(row["target"]), self.layout)]
        guarded(row, lambda job: derain_video(job.source, outputs, self.derainer, self.options))
        return row


def video_pipeline(
    jobs: list[Job], settings: ModelSettings, pool: WorkerPool, options: VideoOptions, layout: FrameLayout
) -> Any:
    """The Ray Dataset that derains the video ``jobs``, one row (a whole file) per block."""
    ray = import_ray()
    rows = job_rows(jobs)
    return ray.data.from_items(rows, override_num_blocks=len(rows)).map(
        VideoStage,
        fn_constructor_args=(settings.absolute(), pool.device, options, layout),
        compute=ray.data.ActorPoolStrategy(size=min(pool.size, len(jobs))),
        num_cpus=pool.num_cpus,
        num_gpus=pool.num_gpus,
    )


def run_ray_videos(
    jobs: list[Job],
    settings: ModelSettings,
    pool: WorkerPool,
    options: VideoOptions,
    layout: FrameLayout,
    on_done: Callable[[Job, Failure | None], None] | None = None,
) -> list[Failure]:
    """Derain every video job on the connected Ray cluster; returns the failures (also passed to ``on_done``)."""
    if not jobs:
        return []
    return collect(partial(video_pipeline, jobs, settings, pool, options, layout), jobs, on_done)
