"""``derain_dataset``: the Python entry point for deraining many files on Ray."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from derain_cli.errors import DerainError
from derain_cli.image_batch import (
    Failure,
    Job,
    expand_inputs,
    is_single_file_output,
    plan_jobs,
)
from derain_cli.scale.cluster import RaySettings, import_ray, plan_pool, ray_session
from derain_cli.scale.images import ModelSettings, run_ray_jobs
from derain_cli.weights.registry import DEFAULT_MODEL

PathLike = str | os.PathLike[str]


@dataclass
class BatchReport:
    """What a run did: jobs written, failures (planning refusals included), jobs skipped as finished."""

    written: list[Job] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return len(self.written) / self.seconds if self.seconds else 0.0


def input_paths(data: PathLike | Iterable[PathLike] | Any) -> list[str]:
    """Inputs as text: a path, paths (files, folders, globs), or a Ray Dataset's ``path`` column."""
    if isinstance(data, (str, os.PathLike)):
        return [os.fspath(data)]
    ray = import_ray()
    if isinstance(data, ray.data.Dataset):
        if "path" not in (data.columns() or []):
            raise DerainError("the Ray Dataset needs a 'path' column (e.g. read_binary_files(..., include_paths=True))")
        return [str(row["path"]) for row in data.select_columns(["path"]).iter_rows()]
    return [os.fspath(p) for p in data]


def derain_dataset(
    data: PathLike | Iterable[PathLike] | Any,
    out: PathLike,
    model: str = DEFAULT_MODEL,
    *,
    weights: PathLike | None = None,
    device: str = "auto",
    tile: int | None = None,
    precision: str = "auto",
    fmt: str | None = None,
    quality: int = 95,
    recursive: bool = False,
    overwrite: bool = False,
    skip_existing: bool = False,
    cluster: RaySettings | None = None,
) -> BatchReport:
    """Derain images on Ray into ``out``, planned exactly as ``derain image`` plans them.

    ``data``: image files, folders or globs, or a Ray Dataset with a ``path`` column (files on
    storage every node sees). Outputs get the local path's names (``out/NAME.png``, sub-folders
    mirrored with ``recursive``); existing outputs are refused unless ``overwrite``, or skipped as
    finished with ``skip_existing``. A failed file is listed in the report; the others go on.
    """
    inputs, output = input_paths(data), Path(out)
    found, failures = expand_inputs(inputs, recursive)
    jobs, refused, skipped = plan_jobs(found, output, is_single_file_output(inputs, output), fmt, overwrite, skip_existing)
    report = BatchReport(failures=failures + refused, skipped=skipped)
    if not jobs:
        return report
    settings = ModelSettings(model, os.fspath(weights) if weights else None, tile, precision)
    cluster = cluster or RaySettings()
    with ray_session(cluster) as ray:
        pool = plan_pool(ray.cluster_resources(), device, cluster)
        settings.check(pool.device)
        start = time.perf_counter()
        failed = run_ray_jobs(jobs, settings, pool, quality)
        report.seconds = time.perf_counter() - start
    failed_sources = {f.source for f in failed}
    report.written = [job for job in jobs if str(job.source) not in failed_sources]
    report.failures += failed
    return report
