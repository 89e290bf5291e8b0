"""Every option of a training run, with the SAPNet paper's defaults, and what ``--resume`` may change."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from derain_cli.errors import UsageError
from derain_cli.losses.composite import PAPER_WEIGHTS, check_loss_weight
from derain_cli.train.precision import PRECISIONS

# Options a resumed run may change; any other must match the run being resumed.
# precision too, between fp32 and bf16 (fp32 weights either way), so a run can move to a CPU without bf16.
RESUMABLE = frozenset({"epochs", "max_steps", "val", "val_every", "device", "workers", "dataset", "checkpoint_every", "snapshots",
                       "log_every", "compact_checkpoints", "precision"})


def check_learning_rate(lr: float) -> None:
    """The one rule for ``--lr`` (train, online-update): finite and positive (inf or NaN would train a NaN model)."""
    if not (math.isfinite(lr) and lr > 0):
        raise UsageError(f"--lr must be a finite positive number, got {lr}")


# TrainConfig fields whose command-line option is not the field's name with dashes
_FLAGS = {"model_options": "model-option"}


@dataclass
class TrainConfig:
    """A training run. Defaults: the SAPNet paper (Rain100H recipe: 100 x 100 patches, batch 12, Adam 1e-3,
    100 epochs, lr x 0.2 at epochs 30, 50, 80; loss -SSIM + 0.1 PCL + 0.1 LPIPS + 0.1 UBS)."""

    dataset: str
    model: str = "sapnet"
    model_options: dict[str, Any] = field(default_factory=dict)  # the architecture's options (e.g. litenet channels)
    losses: dict[str, float] = field(default_factory=lambda: dict(PAPER_WEIGHTS))
    epochs: int = 100
    max_steps: int | None = None
    batch_size: int = 12
    patch: int = 100
    patches_per_image: int = 1
    lr: float = 1e-3
    milestones: tuple[int, ...] = (30, 50, 80)
    gamma: float = 0.2
    weights: str | None = None
    task_driven: bool = False
    seg_model: str | None = None
    task_start: int = 0
    task_ce_weight: float = 1.0
    task_feature_weight: float = 1.0
    task_labels: str | None = None
    val: str | None = None
    val_every: int | None = None
    checkpoint_every: int | None = None
    snapshots: bool = False
    log_every: int = 1
    compact_checkpoints: bool = False
    device: str = "auto"
    precision: str = "fp32"
    workers: int = 2
    seed: int = 0
    loss_weights: dict[str, str] = field(default_factory=dict)
    teacher: str | None = None  # a zoo model whose outputs are the targets (derain_cli.train.distill)

    def __post_init__(self) -> None:
        self.milestones = tuple(int(m) for m in self.milestones)
        positive = {"epochs": self.epochs, "batch-size": self.batch_size, "patch": self.patch,
                    "patches-per-image": self.patches_per_image}  # fmt: skip
        for name, value in positive.items():
            if value < 1:
                raise UsageError(f"--{name} must be at least 1, got {value}")
        for name in ("max_steps", "val_every", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        check_learning_rate(self.lr)
        if self.precision not in PRECISIONS:
            raise UsageError(f"--precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise UsageError(f"--milestones must increase: {','.join(map(str, self.milestones))}")
        if self.task_labels and not self.task_driven:
            raise UsageError("--task-labels is for the task-driven stage: add --task-driven")
        for name, weight in (("--task-ce-weight", self.task_ce_weight), ("--task-feature-weight", self.task_feature_weight),
                             *((f"--losses: weight of {k!r}", v) for k, v in self.losses.items())):  # fmt: skip
            check_loss_weight(name, weight)
        if self.model_options:
            from derain_cli.models import check_options, is_model  # here: the models load torch

            if is_model(self.model):
                check_options(self.model, self.model_options, "--model-option")
        if self.teacher and (self.task_driven or self.model == "hcn"):
            raise UsageError("--teacher gives the targets of plain deraining losses: not with --task-driven or hcn")
        if self.workers < 0:
            raise UsageError(f"--workers must be 0 or more, got {self.workers}")

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["milestones"] = list(self.milestones)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def resumed_with(self, explicit: dict[str, Any]) -> TrainConfig:
        """This (saved) configuration updated with options given explicitly on resuming.

        Options that shape the training itself (model, losses, batch, patch, lr, ...) cannot change:
        a different value is refused, naming the option.
        """
        saved = self.to_json()
        for name, value in explicit.items():
            new = TrainConfig.from_json({**saved, name: value}).to_json()[name]
            fp16_switch = name == "precision" and "fp16" in (new, saved[name])  # GradScaler state exists in fp16 only
            if (name not in RESUMABLE or fp16_switch) and new != saved[name]:
                raise UsageError(
                    f"--resume: this run was trained with --{_FLAGS.get(name, name.replace('_', '-'))} {saved[name]}; "
                    f"it cannot change to {new} (start a new run with another -o)"
                )
            saved[name] = new
        return TrainConfig.from_json(saved)
