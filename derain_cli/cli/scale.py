"""What the batch commands share for ``--ray``: checking its options, running on Ray, the summary line."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from derain_cli.cli.app import console, debug_enabled
from derain_cli.errors import UsageError

if TYPE_CHECKING:
    from derain_cli.image_batch import Failure, Job
    from derain_cli.scale.cluster import RaySettings, WorkerPool
    from derain_cli.scale.images import ModelSettings


def ray_settings(
    ray: bool, address: str | None, workers: int | None, gpus_per_worker: float, quiet: bool, overwrite: bool, skip_existing: bool
) -> RaySettings | None:
    """The Ray options of a batch command, checked; None for a local run."""
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing contradict each other; choose one")
    if not (ray or address):
        if workers is not None or gpus_per_worker != 1.0:
            raise UsageError("--workers and --gpus-per-worker need --ray")
        return None
    from derain_cli.scale.cluster import RaySettings

    return RaySettings(address, workers, gpus_per_worker, progress=not quiet, ray_logs=debug_enabled())


def run_on_ray(
    jobs: list[Job],
    settings: ModelSettings,
    device: str,
    cluster: RaySettings,
    unit: str,
    run: Callable[[WorkerPool], list[Failure]],
) -> list[Failure]:
    """Start or join Ray, check the model and device, ``run`` the jobs on its pool, then print one summary line."""
    from derain_cli.image_batch import destination
    from derain_cli.scale.cluster import plan_pool, ray_session

    began = time.perf_counter()
    with ray_session(cluster) as ray:
        pool = plan_pool(ray.cluster_resources(), device, cluster)
        settings.check(pool.device)
        start = time.perf_counter()
        failures = run(pool)
        seconds = time.perf_counter() - start
    if cluster.progress:
        console.print(
            f"Derained {len(jobs) - len(failures)} {unit}(s) into {destination(jobs)} on Ray with {min(pool.size, len(jobs))} {pool.device} "
            f"worker(s): {len(jobs) / seconds:.2f} {unit}s/s, {len(failures)} failed "
            f"(after {start - began:.1f} s of Ray start-up)",
            highlight=False,
        )
    return failures
