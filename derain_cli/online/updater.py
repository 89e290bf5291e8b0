"""Online update (AAAI 2022): adapt a deraining network to real rainy images that have no ground truth.

The scheme is model-agnostic. Before round 1 every real image gets a *pseudo target*: the starting
model's output on the whole image. Each round then

1. takes ``steps_per_round`` Adam steps on batches of random ``patch`` x ``patch`` crops of the real
   images (same window in the rainy image and its pseudo target, random horizontal flip), minimising
   ``L1(model(rainy), pseudo target) + kl_weight * KL(real rain || synthetic rain)``, plus, with
   ``synth_weight`` > 0 (our variant, not the paper's), ``synth_weight * L1(model(R(target)), target)``
   where ``R`` renders new synthetic rain (:mod:`derain_cli.synth`, preset ``synth_preset``) on crops of
   the pseudo targets: self-training alone can only keep what the model already removes, while these
   pairs keep teaching removal on the user's own scenes;
2. refreshes the pseudo targets with the updated model ("online update").

The learning rate is ``lr`` times ``LR_GAMMA`` (0.2) for every milestone passed, the milestones being
the rounds at 30 %, 50 % and 80 % of the run. Images smaller than the patch are reflect-padded (bottom and
right) for sampling; their outputs keep the original size.

The KL prior is defined in :mod:`derain_cli.online.prior`.

Everything needed to continue is written after each round: ``model.safetensors``, ``state.pt``
(network, optimiser, pseudo targets, RNG state, history) and ``metrics.jsonl``. Patches are a pure
function of ``(seed, global step)``, so a resumed run trains on exactly the batches an uninterrupted
one would have.
"""

from __future__ import annotations

import hashlib

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.checkpoints import save_safetensors, save_torch
from derain_cli.contact_sheet import contact_sheet
from derain_cli.derainer import Derainer
from derain_cli.errors import DerainError, UsageError, load_failure
from derain_cli.fsutil import write_atomic
from derain_cli.image_batch import Failure, Job, run_jobs
from derain_cli.imageio import to_uint8, write_rgb8
from derain_cli.online.images import RealImage, sample_patches, synthetic_pairs
from derain_cli.online.prior import SyntheticRain, rain_kl
from derain_cli.synth.params import preset
from derain_cli.train.config import check_learning_rate
from derain_cli.train import precision as mixed

LR_MILESTONES = (30, 50, 80)  # percent of the run after which the learning rate steps down
LR_GAMMA = 0.2
PREVIEW_IMAGES = 4
STATE_VERSION = 1

Progress = Callable[[str, int, int], None]
"""(phase, done, total): called as work advances."""


@dataclass(frozen=True)
class UpdateOptions:
    """The settings of one adaptation run (``steps_per_round`` None: enough batches to see each image once)."""

    rounds: int = 20
    steps_per_round: int | None = None
    patch: int = 128
    batch_size: int = 4
    lr: float = 1e-4
    kl_weight: float = 8e-5
    synth_weight: float = 0.0
    synth_preset: str = "mix"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("rounds", "steps_per_round", "patch", "batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        check_learning_rate(self.lr)
        for name in ("kl_weight", "synth_weight"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise UsageError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}")
        if self.synth_preset != "mix":
            preset(self.synth_preset)  # an unknown preset is refused before any work

    def resolved(self, images: int) -> UpdateOptions:
        """These options with ``steps_per_round`` filled in for ``images`` real images."""
        return replace(self, steps_per_round=self.steps_per_round or math.ceil(images / self.batch_size))


def learning_rate(options: UpdateOptions, round_number: int) -> float:
    """The learning rate of round ``round_number`` (1-based): ``lr * LR_GAMMA ** milestones passed``.

    Milestone ``p`` is round ``max(1, ceil(p% of rounds))``; the rounds after it run at the lower rate
    (20 rounds: x0.2 from round 7, x0.04 from 11, x0.008 from 17).
    """
    milestones = [max(1, -(-percent * options.rounds // 100)) for percent in LR_MILESTONES]
    return options.lr * LR_GAMMA ** sum(round_number > m for m in milestones)


class OnlineUpdater:
    """One adaptation run of ``network`` on ``images``, written into the folder ``out``.

    ``metadata`` goes into ``model.safetensors`` (e.g. ``architecture_metadata(...)``); ``previews``
    writes ``previews/round_NNN.png`` after each round: for the first images, rainy | starting
    model's output | current output. ``precision`` (``auto``, ``fp32``, ``bf16``) sets the
    training steps' autocast and layout (``derain_cli.train.precision``) and the arithmetic of the
    fast path that refreshes the pseudo targets, rebuilt from the current weights each round.
    """

    def __init__(
        self,
        network: nn.Module,
        images: list[RealImage],
        out: str | Path,
        options: UpdateOptions,
        metadata: dict[str, str],
        synthetic: SyntheticRain | None = None,
        device: str = "auto",
        tile: int | None = None,
        previews: bool = False,
        precision: str = "fp32",
    ) -> None:
        if not images:
            raise DerainError("no real images to adapt to")
        self.images = images
        self.out = Path(out)
        self.options = options.resolved(len(images))
        self.metadata = metadata
        self.synthetic = synthetic
        self.previews = previews
        if precision == "fp16":
            raise UsageError("--precision fp16 is not offered for the online update (no loss scaling); use bf16 or fp32")
        self.derainer = Derainer.from_network(network, device, tile, precision)
        self.precision = mixed.resolve(precision, self.derainer.device)
        self.memory_format = mixed.memory_format(self.precision, self.derainer.device)
        self.network = self.derainer.network.to(memory_format=self.memory_format)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=self.options.lr)
        self.completed = 0
        self.history: list[dict[str, Any]] = []
        self.initial: list[np.ndarray] = []
        self.targets_current = False  # the pseudo targets are the current model's outputs (computed in this process)

    @property
    def state_path(self) -> Path:
        return self.out / "state.pt"

    def _config(self) -> dict[str, Any]:
        return {
            "options": asdict(self.options),
            "inputs": [_identity(image) for image in self.images],
            "synthetic": str(self.synthetic.root) if self.synthetic else None,
            "architecture": self.metadata.get("architecture"),
        }

    def refresh_targets(self, progress: Progress | None = None) -> float:
        """Replace every pseudo target by the current model's output; returns the mean |change| in [0, 1] units."""
        self.network.eval()
        self.derainer.rebuild_fast_path()
        changes = []
        for done, image in enumerate(self.images, start=1):
            new = to_uint8(self.derainer.derain_float(image.rainy.astype(np.float32) / 255.0))
            if image.target is not None:
                changes.append(float(np.abs(new.astype(np.int16) - image.target).mean()) / 255.0)
            image.target = new
            if progress:
                progress("pseudo targets", done, len(self.images))
        if not self.initial:
            self.initial = [image.target for image in self.images[:PREVIEW_IMAGES]]
        self.targets_current = True
        return float(np.mean(changes)) if changes else 0.0

    def _forward(self, rainy: Tensor) -> Tensor:
        rainy = rainy.to(self.derainer.device).contiguous(memory_format=self.memory_format)
        with mixed.autocast(self.precision, self.derainer.device):
            output = self.network(rainy)[0]
        return output.float()  # the losses in fp32

    def train_step(self, step: int) -> dict[str, float]:
        """One Adam step on a batch of real patches (and synthetic pairs with ``synth_weight``); returns its losses."""
        self.network.train()
        batch, patch, seed = self.options.batch_size, self.options.patch, self.options.seed
        rainy, target = sample_patches(self.images, batch, patch, seed, step)
        rainy = rainy.to(self.derainer.device)
        output = self._forward(rainy)
        l1 = F.l1_loss(output, target.to(self.derainer.device))
        loss, losses = l1, {"l1": l1.item(), "kl": 0.0, "synth_l1": 0.0}
        if self.synthetic is not None:
            divergence = rain_kl(rainy - output, self.synthetic.sample(batch, step).to(self.derainer.device))
            loss = loss + self.options.kl_weight * divergence
            losses["kl"] = divergence.item()
        if self.options.synth_weight:
            synth_rainy, synth_clean = synthetic_pairs(self.images, batch, patch, seed, step, self.options.synth_preset)
            synth_l1 = F.l1_loss(self._forward(synth_rainy), synth_clean.to(self.derainer.device))
            loss = loss + self.options.synth_weight * synth_l1
            losses["synth_l1"] = synth_l1.item()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return losses

    def run_round(self, progress: Progress | None = None) -> dict[str, Any]:
        """Train one round, refresh the pseudo targets, save everything; returns the round's record."""
        number = self.completed + 1
        steps = self.options.steps_per_round
        lr = learning_rate(self.options, number)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        start = time.perf_counter()
        losses: list[dict[str, float]] = []
        for k in range(steps):
            losses.append(self.train_step(self.completed * steps + k))
            if progress:
                progress(f"round {number}/{self.options.rounds}: training", k + 1, steps)
        trained = time.perf_counter()
        change = self.refresh_targets(progress)
        done = time.perf_counter()
        record = {
            "round": number, "steps": steps, **{name: float(np.mean([l[name] for l in losses])) for name in losses[0]}, "lr": lr,
            "target_change": change, "train_seconds": round(trained - start, 3),
            "refresh_seconds": round(done - trained, 3), "seconds": round(done - start, 3),
        }  # fmt: skip
        self.completed = number
        self.history.append(record)
        self.save()
        return record

    def run(self, progress: Progress | None = None, on_round: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        """Compute the first pseudo targets (unless resumed) and run the remaining rounds; returns the history."""
        if self.images[0].target is None:
            self.refresh_targets(progress)
        while self.completed < self.options.rounds:
            record = self.run_round(progress)
            if on_round:
                on_round(record)
        return self.history

    def write_outputs(
        self, jobs: list[Job], on_done: Callable[[Job, Failure | None], None] | None = None, overwrite: bool = False
    ) -> list[Failure]:
        """The adapted model's outputs on the original files (bit depth and alpha kept; existing ones kept unless ``overwrite``).

        The last refresh already ran the adapted model on every image as 8-bit RGB: a file that reads as exactly
        those values gets that output (the pixels a second pass would give), and only the others are derained again.
        """
        self.network.eval()
        self.derainer.rebuild_fast_path()
        derainer = _KnownOutputs(self.derainer, self.images if self.targets_current else [])
        return run_jobs(derainer, jobs, on_done=on_done, overwrite=overwrite)  # type: ignore[arg-type]

    def save(self) -> None:
        """Write model.safetensors, state.pt, metrics.jsonl (and the preview), each atomically."""
        self.out.mkdir(parents=True, exist_ok=True)
        save_safetensors(self.network.state_dict(), self.out / "model.safetensors", self.metadata, overwrite=True)
        state = {
            "version": STATE_VERSION, "config": self._config(), "completed": self.completed,
            "network": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(), "history": self.history,
            "targets": [torch.from_numpy(image.target) for image in self.images],
            "initial": [torch.from_numpy(array) for array in self.initial],
        }  # fmt: skip
        save_torch(state, self.state_path)
        write_atomic(self.out / "metrics.jsonl", "".join(json.dumps(record) + "\n" for record in self.history).encode(), overwrite=True)
        if self.previews:
            self.write_preview()

    def write_preview(self) -> Path:
        """previews/round_NNN.png: rainy | starting output | current output, one row per image, columns labelled."""
        rows = [[image.rainy, first, image.target] for image, first in zip(self.images, self.initial)]
        path = self.out / "previews" / f"round_{self.completed:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        labels = ["rainy input", "starting model", f"after round {self.completed}"]
        sheet = contact_sheet(rows, labels=labels)
        return write_rgb8(path, sheet)

    def resume(self) -> None:
        """Continue from ``state.pt``; refuses a state made with other options, inputs or model."""
        if not self.state_path.is_file():
            raise DerainError(f"{self.state_path}: no saved state to resume from")
        try:
            state = torch.load(self.state_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch.load raises many types on damaged files
            raise DerainError(f"{self.state_path}: unreadable state ({load_failure(exc)})") from None
        if state.get("version") != STATE_VERSION:
            raise DerainError(f"{self.state_path}: state version {state.get('version')} is not {STATE_VERSION}")
        saved, current = state["config"], self._config()
        _check_same_inputs(self.state_path, saved["inputs"], current["inputs"])
        for key in ("options", "synthetic", "architecture"):
            if saved[key] != current[key]:
                raise UsageError(
                    f"{self.state_path}: the run was started with {key} {saved[key]}, not {current[key]}; "
                    "resume with the original options and inputs"
                )
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        self.completed, self.history = state["completed"], state["history"]
        for image, target in zip(self.images, state["targets"]):
            image.target = target.numpy()
        self.initial = [array.numpy() for array in state["initial"]]


class _KnownOutputs:
    """The output phase's deraining: an input whose values are exactly those a pseudo target was computed from gets
    that target (same model, same input: the same pixels), anything else goes through ``derainer``."""

    def __init__(self, derainer: Derainer, images: list[RealImage]) -> None:
        self.derainer = derainer
        self.known = {_key(image.rainy): image for image in images if image.target is not None}

    def derain_float(self, rgb: np.ndarray) -> np.ndarray:
        rainy = to_uint8(rgb)
        image = self.known.get(_key(rainy))
        if image is not None and np.array_equal(rainy, image.rainy) and np.array_equal(rgb, rainy.astype(np.float32) / 255.0):
            return image.target.astype(np.float32) / 255.0
        return self.derainer.derain_float(rgb)


def _key(rainy: np.ndarray) -> tuple[tuple[int, ...], bytes]:
    return rainy.shape, hashlib.blake2b(rainy.tobytes(), digest_size=16).digest()


def _identity(image: RealImage) -> dict[str, Any]:
    """What names an input image for resuming: its name, size and pixels (another image under the same name is not it)."""
    height, width = image.rainy.shape[:2]
    return {"name": image.path.name, "size": [width, height], "sha256": hashlib.sha256(image.rainy.tobytes()).hexdigest()}


def _check_same_inputs(state: Path, saved: list[Any], current: list[dict[str, Any]]) -> None:
    """Refuse to resume on other images than the run's, naming the first that differs."""
    if [entry.get("name") if isinstance(entry, dict) else entry for entry in saved] != [entry["name"] for entry in current]:
        names = [entry.get("name") if isinstance(entry, dict) else entry for entry in saved]
        raise UsageError(f"{state}: the run was started with the images {names}; resume with the same images")
    for old, new in zip(saved, current):
        if old != new:
            raise UsageError(
                f"{state}: {new['name']} is not the image the run started with "
                f"({new['size'][0]}x{new['size'][1]}, other pixels); resume with the original images or start a new run"
            )


def check_output_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """A fresh run needs a folder without a previous run (unless ``overwrite``); ``resume`` needs one."""
    if resume and overwrite:
        raise UsageError("--resume and --overwrite exclude each other")
    if resume and not (out / "state.pt").is_file():
        raise DerainError(f"{out / 'state.pt'}: no saved state to resume from")
    previous = [name for name in ("state.pt", "model.safetensors") if (out / name).exists()]
    if previous and not resume and not overwrite:
        raise DerainError(f"{out}: holds a previous run ({previous[0]}); pass --resume to continue it or --overwrite to start afresh")
