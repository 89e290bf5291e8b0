"""The training loop: Adam + MultiStepLR over random patches, logging, validation, checkpoints, exact resume."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from derain_cli.checkpoints import check_fits, load_into
from derain_cli.errors import DerainError, one_line
from derain_cli.losses.base import LossBatch
from derain_cli.models import create_model
from derain_cli.pairs import find_pairs
from derain_cli.train import distributed
from derain_cli.train import precision as mixed
from derain_cli.train.config import TrainConfig
from derain_cli.train.data import EpochBatches, PairedPatches, load_labels, load_pairs, steps_per_epoch
from derain_cli.train.datasets import resolve_dataset
from derain_cli.train.distill import Teacher
from derain_cli.train.sources import build_patches
from derain_cli.train.stopping import StopRequest, TrainingStopped, ignore_in_workers, stop_requests
from derain_cli.train.objective import build_objective
from derain_cli.train.run import RunFolder
from derain_cli.train.validate import validate

StepCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Plan:
    """How long the run is: steps already done (resume), total steps, steps per epoch, training pairs."""

    start_step: int
    total_steps: int
    steps_per_epoch: int
    pairs: int


def _rng_state() -> dict[str, Any]:
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def mean_record(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One metrics.jsonl line for several steps (--log-every): the last step's record with each loss term that
    every step has replaced by its mean over them, and ``steps``, how many; a single step's record as it is."""
    if len(records) == 1:
        return records[0]
    last = dict(records[-1])
    for key, value in last.items():
        if key not in ("step", "epoch", "lr", "seconds") and isinstance(value, float) and all(key in r for r in records):
            last[key] = sum(r[key] for r in records) / len(records)
    return {**last, "steps": len(records)}


def _compact(optimizer: dict[str, Any]) -> dict[str, Any]:
    """Adam's state with its moments in bf16 (--compact-checkpoints): the checkpoint is half as large (a run's state
    can be committed), and loading casts them back to fp32; a resumed run then differs from an uninterrupted one
    by their rounding (8 bits of mantissa), not by more."""
    state = {index: {k: v.to(torch.bfloat16) if k != "step" and v.is_floating_point() else v for k, v in moments.items()}
             for index, moments in optimizer["state"].items()}  # fmt: skip
    return {**optimizer, "state": state}


def _worker_errors(batches: Iterable[Any]) -> Iterator[Any]:
    """The batches; an error a DataLoader worker raised becomes the worker's own one-line message.

    torch re-raises it in this process with its traceback folded into the message
    ("Caught DerainError in DataLoader worker process 0. Original Traceback ...")."""
    try:
        yield from batches
    except DerainError as exc:
        text = str(exc)
        if "in DataLoader worker process" not in text:
            raise
        last = [line for line in text.splitlines() if line.strip()][-1]
        raise DerainError(last.split(": ", 1)[1] if last.startswith("derain_cli.errors.") else last) from None


class Trainer:
    """``Trainer(config, run_dir, resume)``: :attr:`plan` says what will run, :meth:`run` runs it.

    Works alone or as one of several ``torchrun`` processes (only rank 0 writes to the run folder).
    """

    def __init__(self, config: TrainConfig, run_dir: str | Path, resume: bool = False) -> None:
        self.run_folder = RunFolder(run_dir)
        self.processes = distributed.start(config.device)
        if self.processes.is_main:
            self.run_folder.lock()
        try:
            self._setup(config, resume)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        distributed.stop(self.processes)
        if self.processes.is_main:
            self.run_folder.unlock()

    def _setup(self, config: TrainConfig, resume: bool) -> None:
        # Without a checkpoint (a run that failed or was killed before its first one) the run starts
        # again from step 0, resumed or not: its folder holds nothing worth keeping.
        checkpoint = self.run_folder.load_checkpoint() if resume else None
        if not resume:
            self.run_folder.check_new()
        self.config = config
        device = self.processes.device
        self.precision = mixed.resolve(config.precision, device)
        self.memory_format = mixed.memory_format(self.precision, device)
        world = self.processes.world_size
        if config.batch_size % world:
            raise DerainError(f"--batch-size {config.batch_size} does not split evenly over {world} processes")
        self.batch_per_process = config.batch_size // world

        self.teacher_licence = None
        if config.task_labels:
            pairs = load_pairs(resolve_dataset(config.dataset), config.patch)
            labels = load_labels(pairs, Path(config.task_labels))
            self.dataset: Dataset = PairedPatches(pairs, config.patch, config.seed, config.patches_per_image, labels=labels)
            images = len(pairs)
        else:
            teacher = Teacher(config.teacher, config.device) if config.teacher else None
            self.teacher_licence = teacher and teacher.licence
            self.dataset, images = build_patches(config.dataset, config.patch, config.seed, config.patches_per_image, teacher=teacher)
        self.val_data = find_pairs(resolve_dataset(config.val, option="--val")) if config.val else None
        per_epoch = steps_per_epoch(len(self.dataset), self.batch_per_process, world)
        total = per_epoch * config.epochs
        if config.max_steps is not None:
            total = min(total, config.max_steps)
        start = int(checkpoint["step"]) if checkpoint else 0
        self.plan = Plan(start, total, per_epoch, images)

        torch.manual_seed(config.seed)
        net = create_model(config.model, **config.model_options)
        if config.weights and not checkpoint:
            load_into(net, config.weights)
        self.network = net.to(device, memory_format=self.memory_format)
        self.model = distributed.wrap(self.network, self.processes)
        self.objective = build_objective(config, device).to(memory_format=self.memory_format)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=config.lr)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, list(config.milestones), config.gamma)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.precision == "fp16")
        if checkpoint:
            self._restore(checkpoint)
        if self.processes.is_main:
            self.run_folder.drop_records_after(start)
            self.run_folder.write_config(
                config, overwrite=True, world_size=world, device=str(device), precision=self.precision,
                training_pairs=images,
                steps_per_epoch=per_epoch,
                **({"teacher_licence": self.teacher_licence} if config.teacher else {}),
            )
        distributed.barrier(self.processes)

    def _restore(self, checkpoint: dict[str, Any]) -> None:
        path = self.run_folder.checkpoint
        check_fits(self.network, checkpoint["model"], str(path))
        self.network.load_state_dict(checkpoint["model"])
        parts = (("optimizer", self.optimizer.load_state_dict), ("scheduler", self.scheduler.load_state_dict),
                 ("scaler", self.scaler.load_state_dict), ("rng", _restore_rng))  # fmt: skip
        for name, restore in parts:
            try:
                restore(checkpoint[name])
            except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as exc:
                raise DerainError(
                    f"{path}: its {name} state does not fit this run ({one_line(exc)}); "
                    "it comes from another run or version: start a new run in another folder"
                ) from None

    def _loader(self) -> DataLoader:
        sampler = EpochBatches(
            len(self.dataset), self.batch_per_process, self.config.seed, self.plan.start_step, self.plan.total_steps,
            self.processes.rank, self.processes.world_size,
        )  # fmt: skip
        workers = self.config.workers
        return DataLoader(
            self.dataset, batch_sampler=sampler, num_workers=workers, pin_memory=self.processes.device.type == "cuda",
            persistent_workers=False, prefetch_factor=2 if workers else None, worker_init_fn=ignore_in_workers if workers else None,
        )  # fmt: skip

    def run(self, on_step: StepCallback | None = None) -> dict[str, Any] | None:
        """Train from :attr:`plan`'s start step to its total; returns the last logged record (None if nothing ran)."""
        try:
            return self._run(on_step)
        finally:
            self._release()

    def _run(self, on_step: StepCallback | None) -> dict[str, Any] | None:
        plan = self.plan
        with stop_requests(enabled=not self.processes.distributed) as stop:
            record, step = self._steps(on_step, stop)
        if step > plan.start_step:
            self._save(step)
        if stop.signum is not None and step < plan.total_steps:
            raise TrainingStopped(self.run_folder.root, stop.signum, step)
        return record

    def _steps(self, on_step: StepCallback | None, stop: StopRequest) -> tuple[dict[str, Any] | None, int]:
        """Train until the plan's last step or a stop request; returns the last record and the steps done."""
        config, plan = self.config, self.plan
        record = None
        unlogged: list[dict[str, Any]] = []  # steps since the last line of metrics.jsonl (--log-every)
        step = plan.start_step
        started = time.perf_counter()

        def log() -> None:
            if unlogged and self.processes.is_main:
                self.run_folder.log(mean_record(unlogged))
            unlogged.clear()

        try:
            for tensors in _worker_errors(self._loader()):
                epoch = step // plan.steps_per_epoch
                while self.scheduler.last_epoch < epoch:
                    self.scheduler.step()
                record = self._step([self._to_device(t) for t in tensors], epoch)
                step += 1
                record = {"step": step, "epoch": epoch + 1, **record}
                record["seconds"] = round(time.perf_counter() - started, 3)
                end_of_epoch = step % plan.steps_per_epoch == 0 or step == plan.total_steps
                if config.val and (step % config.val_every == 0 if config.val_every else end_of_epoch):
                    record.update(self._validate())
                unlogged.append(record)
                save = (step % config.checkpoint_every == 0 if config.checkpoint_every else end_of_epoch) and step < plan.total_steps
                if step % config.log_every == 0 or step == plan.total_steps or stop.signum is not None or save:
                    log()
                if on_step and self.processes.is_main:
                    on_step(record)
                if stop.signum is not None:
                    break  # saved by the caller
                if save:
                    self._save(step)
        except KeyboardInterrupt:
            log()
            if step > plan.start_step:
                self._save(step)
            raise
        return record, step

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """A batch tensor on the device, images in the model's memory layout (labels are 3-D: left as they are)."""
        tensor = tensor.to(self.processes.device, non_blocking=True)
        return tensor.contiguous(memory_format=self.memory_format) if tensor.dim() == 4 else tensor

    def _step(self, tensors: list[torch.Tensor], epoch: int) -> dict[str, float]:
        """One optimisation step on (rainy, clean[, labels]) patches."""
        rainy, clean, *labels = tensors
        self.model.train()
        with mixed.autocast(self.precision, self.processes.device):
            output, extras = self.model(rainy)
            batch = LossBatch(output, clean, rainy, extras, labels[0] if labels else None)
            total, terms = self.objective(batch, epoch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        values = distributed.mean_across({"loss": total.detach(), **terms}, self.processes)
        if not all(math.isfinite(v) for v in values.values()):
            bad = ", ".join(f"{k}={v}" for k, v in values.items() if not math.isfinite(v))
            again = "in another folder" if self.run_folder.checkpoint.exists() else "in the same folder"
            raise DerainError(f"training diverged at epoch {epoch + 1}: non-finite loss ({bad}); start again {again} with a lower --lr")
        return {**values, "lr": self.optimizer.param_groups[0]["lr"]}

    def _validate(self) -> dict[str, float]:
        result: dict[str, float] = {}
        if self.processes.is_main:
            result = validate(self.network, self.val_data, self.processes.device)
        distributed.barrier(self.processes)
        return result

    def _save(self, step: int) -> None:
        if self.processes.is_main:
            state = {k: v.detach().cpu() for k, v in self.network.state_dict().items()}
            self.run_folder.save_checkpoint({
                "model": state,
                "optimizer": _compact(self.optimizer.state_dict()) if self.config.compact_checkpoints else self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "step": step,
                "rng": _rng_state(),
                "options": self.config.to_json(),
            }, separate_weights=self.config.compact_checkpoints)  # fmt: skip
            self.run_folder.save_model(state, self.config, step)
        distributed.barrier(self.processes)
