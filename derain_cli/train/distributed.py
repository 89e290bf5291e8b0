"""Several processes under ``torchrun``: DistributedDataParallel (gloo on CPU, nccl on CUDA), rank-0 writes."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from derain_cli.devices import resolve_device
from derain_cli.errors import UsageError


@dataclass(frozen=True)
class Processes:
    """This process's place among the ``world_size`` processes of a run, and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def start(device: str = "auto") -> Processes:
    """Join the process group torchrun set up (WORLD_SIZE > 1), or run alone.

    Under torchrun each process takes ``cuda:LOCAL_RANK`` (nccl) when CUDA is used, else the CPU (gloo).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Processes(0, 1, resolve_device(device))
    base = resolve_device(device)
    if base.type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if local_rank >= torch.cuda.device_count():
            raise UsageError(f"LOCAL_RANK {local_rank}: only {torch.cuda.device_count()} CUDA device(s) present")
        base = torch.device("cuda", local_rank)
        torch.cuda.set_device(base)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if base.type == "cuda" else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), base)


def stop(processes: Processes) -> None:
    if processes.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, processes: Processes) -> nn.Module:
    """The model as trained: DistributedDataParallel across processes, the bare module alone."""
    if not processes.distributed:
        return model
    ids = [processes.device.index] if processes.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def barrier(processes: Processes) -> None:
    if processes.distributed:
        dist.barrier()


def mean_across(values: dict[str, Tensor], processes: Processes) -> dict[str, float]:
    """Each scalar averaged over the processes (for logging)."""
    if not values:
        return {}
    stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()]).to(processes.device)
    if processes.distributed:
        dist.all_reduce(stacked)
        stacked /= processes.world_size
    return dict(zip(values, stacked.tolist()))

