"""Online update (AAAI 2022): adapt a deraining network to real rainy images that have no ground truth.

The scheme is model-agnostic. Before round 1 every real image gets a *pseudo target*: the starting
model's output on the whole image. Each round then

1. takes ``steps_per_round`` Adam steps on batches of random ``patch`` x ``patch`` crops of the real
   images (same window in the rainy image and its pseudo target, random horizontal flip), minimising
   ``L1(model(rainy), pseudo target) + kl_weight * KL(real rain || synthetic rain)``;
2. refreshes the pseudo targets with the updated model ("online update").

The learning rate is ``lr`` times ``LR_GAMMA`` (0.2) for every milestone passed, the milestones being
the rounds at 30 %, 50 % and 80 % of the run. Images smaller than the patch are reflect-padded (bottom and
right) for sampling; their outputs keep the original size.

The KL prior. A rain layer is rainy minus derained: ``rainy - model(rainy)`` for a real patch,
``rainy - clean`` for a patch of a random pair of the ``--synthetic`` set. For every sample and
colour channel the layer's values (clamped to [-1, 1]) become a distribution over ``BINS`` evenly
spaced bins by linear binning (each value splits its unit mass between the two nearest bin centres,
so the histogram is differentiable in the values); both histograms get ``EPS`` added and are
renormalised. The term is ``sum_k P_k log(P_k / Q_k)`` with P the real and Q the synthetic
histogram, averaged over samples and channels: non-negative, zero only for equal histograms, and
independent of the patch size. Without a synthetic set the term is exactly 0.

The reference code (supersupercong/Online-updated-High-order-Collaborative-Networks..., real_train.py)
applies ``nn.KLDivLoss`` element-wise to the raw rain layers (not distributions; pixels matched by
position between unrelated images) and sums over the patch; we use the position-free definition above.

Everything needed to continue is written after each round: ``model.safetensors``, ``state.pt``
(network, optimiser, pseudo targets, RNG state, history) and ``metrics.jsonl``. Patches are a pure
function of ``(seed, global step)``, so a resumed run trains on exactly the batches an uninterrupted
one would have.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.checkpoints import save_safetensors
from derain_cli.derainer import Derainer
from derain_cli.errors import DerainError, UsageError
from derain_cli.fsutil import atomic_output
from derain_cli.image_batch import Failure, Job, run_jobs
from derain_cli.imageio import LoadedImage, read_rgb8, to_uint8, write_image
from derain_cli.train.config import check_learning_rate
from derain_cli.train.data import PairedPatches, load_pairs

BINS = 101  # histogram bins over rain-layer values in [-1, 1] (width 0.02)
EPS = 1e-6
LR_MILESTONES = (30, 50, 80)  # percent of the run after which the learning rate steps down
LR_GAMMA = 0.2
PREVIEW_IMAGES = 4
PREVIEW_WIDTH = 320
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
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("rounds", "steps_per_round", "patch", "batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        check_learning_rate(self.lr)
        if not self.kl_weight >= 0:
            raise UsageError(f"--kl-weight must be 0 or more, got {self.kl_weight}")

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


def soft_histogram(values: Tensor, bins: int = BINS) -> Tensor:
    """Rows of values (N x M) -> N x ``bins`` distributions over [-1, 1] by linear binning (differentiable)."""
    position = (values.clamp(-1, 1) + 1) * ((bins - 1) / 2)
    lower = position.detach().floor().clamp(max=bins - 2)
    upper_share = position - lower
    index = lower.long()
    hist = values.new_zeros(values.shape[0], bins)
    hist = hist.scatter_add(1, index, 1 - upper_share).scatter_add(1, index + 1, upper_share)
    return hist / values.shape[1]


def rain_kl(real_rain: Tensor, synthetic_rain: Tensor) -> Tensor:
    """KL(real || synthetic) of per-sample, per-channel rain-layer histograms (N x 3 x H x W each), averaged."""
    p, q = (soft_histogram(layer.flatten(2).flatten(0, 1)) + EPS for layer in (real_rain, synthetic_rain))
    p, q = p / p.sum(1, keepdim=True), q / q.sum(1, keepdim=True)
    return (p * (p.log() - q.log())).sum(1).mean()


@dataclass
class RealImage:
    """A real rainy image and its current pseudo target (H x W x 3 uint8; target None until computed)."""

    path: Path
    rainy: np.ndarray
    target: np.ndarray | None = None


def load_real_images(paths: list[Path]) -> tuple[list[RealImage], list[Failure]]:
    """Read every image (colour only, 8 bits); unreadable ones become failures."""
    images: list[RealImage] = []
    failures: list[Failure] = []
    for path in paths:
        try:
            images.append(RealImage(path, read_rgb8(path)))
        except DerainError as exc:
            failures.append(Failure(str(path), str(exc).removeprefix(f"{path}: "), exc))
    return images, failures


def small_image_notes(images: list[RealImage], patch: int) -> list[str]:
    """A line for each image smaller than the patch (it is reflect-padded for training)."""
    return [
        f"{image.path}: {image.rainy.shape[1]}x{image.rainy.shape[0]} is smaller than the {patch} px patch; "
        "reflect-padded for training"
        for image in images
        if min(image.rainy.shape[:2]) < patch
    ]


def output_jobs(images: list[RealImage], out: Path) -> list[Job]:
    """``OUT/derained/<stem>.png`` for each image; refuses two inputs with one stem and writing over an input."""
    jobs: dict[Path, Job] = {}
    sources = {image.path.resolve() for image in images}
    for image in images:
        target = out / "derained" / f"{image.path.stem}.png"
        if target.resolve() in sources:
            raise DerainError(f"{image.path}: its output {target} would replace an input; choose another -o")
        if target in jobs:
            raise DerainError(f"{image.path}: same output {target} as {jobs[target].source}; rename one of them")
        jobs[target] = Job(image.path, target)
    return list(jobs.values())


def _pad_to(array: np.ndarray, patch: int) -> np.ndarray:
    height, width = array.shape[:2]
    if height >= patch and width >= patch:
        return array
    return np.pad(array, ((0, max(0, patch - height)), (0, max(0, patch - width)), (0, 0)), mode="reflect")


def sample_patches(images: list[RealImage], count: int, patch: int, seed: int, step: int) -> tuple[Tensor, Tensor]:
    """``count`` random (rainy, pseudo target) crops, N x 3 x patch x patch floats; a pure function of (seed, step)."""
    rng = np.random.default_rng([seed, step])
    rainy, target = [], []
    for _ in range(count):
        image = images[int(rng.integers(len(images)))]
        pair = [_pad_to(image.rainy, patch), _pad_to(image.target, patch)]
        top = int(rng.integers(pair[0].shape[0] - patch + 1))
        left = int(rng.integers(pair[0].shape[1] - patch + 1))
        step_x = -1 if rng.random() < 0.5 else 1
        crops = [a[top : top + patch, left : left + patch][:, ::step_x] for a in pair]
        rainy.append(crops[0])
        target.append(crops[1])
    return tuple(torch.from_numpy(np.stack(c)).permute(0, 3, 1, 2).float().div_(255.0) for c in (rainy, target))


class SyntheticRain:
    """Rain layers (rainy - clean) of random patches of a paired synthetic set."""

    def __init__(self, root: str | Path, patch: int, seed: int = 0) -> None:
        self.root = Path(root)
        self.seed = seed
        self.patches = PairedPatches(load_pairs(self.root, patch), patch, seed)

    def sample(self, count: int, step: int) -> Tensor:
        """``count`` rain layers, N x 3 x patch x patch; a pure function of (seed, step)."""
        rng = np.random.default_rng([self.seed, step, 1])
        layers = [rainy - clean for rainy, clean in (self.patches[(int(i), step)] for i in rng.integers(len(self.patches), size=count))]
        return torch.stack(layers)


def contact_sheet(rows: list[list[np.ndarray]], width: int = PREVIEW_WIDTH, gap: int = 4) -> np.ndarray:
    """uint8 tiles in a grid, each resized to ``width`` px wide, on white with ``gap`` px between."""
    def fit(tile: np.ndarray) -> np.ndarray:
        height = max(1, round(tile.shape[0] * width / tile.shape[1]))
        return cv2.resize(tile, (width, height), interpolation=cv2.INTER_AREA)

    resized = [[fit(tile) for tile in row] for row in rows]
    heights = [max(t.shape[0] for t in row) for row in resized]
    columns = max(len(row) for row in resized)
    sheet = np.full((sum(heights) + gap * (len(rows) + 1), columns * width + gap * (columns + 1), 3), 255, np.uint8)
    top = gap
    for row, height in zip(resized, heights):
        for k, tile in enumerate(row):
            left = gap + k * (width + gap)
            sheet[top : top + tile.shape[0], left : left + width] = tile
        top += height + gap
    return sheet


class OnlineUpdater:
    """One adaptation run of ``network`` on ``images``, written into the folder ``out``.

    ``metadata`` goes into ``model.safetensors`` (e.g. ``architecture_metadata(...)``); ``previews``
    writes ``previews/round_NNN.png`` after each round: for the first images, rainy | starting
    model's output | current output.
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
    ) -> None:
        if not images:
            raise DerainError("no real images to adapt to")
        self.images = images
        self.out = Path(out)
        self.options = options.resolved(len(images))
        self.metadata = metadata
        self.synthetic = synthetic
        self.previews = previews
        self.derainer = Derainer.from_network(network, device, tile)
        self.network = self.derainer.network
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=self.options.lr)
        self.completed = 0
        self.history: list[dict[str, Any]] = []
        self.initial: list[np.ndarray] = []

    @property
    def state_path(self) -> Path:
        return self.out / "state.pt"

    def _config(self) -> dict[str, Any]:
        return {
            "options": asdict(self.options),
            "inputs": [image.path.name for image in self.images],
            "synthetic": str(self.synthetic.root) if self.synthetic else None,
            "architecture": self.metadata.get("architecture"),
        }

    def refresh_targets(self, progress: Progress | None = None) -> float:
        """Replace every pseudo target by the current model's output; returns the mean |change| in [0, 1] units."""
        self.network.eval()
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
        return float(np.mean(changes)) if changes else 0.0

    def train_step(self, step: int) -> tuple[float, float]:
        """One Adam step on a batch of real patches; returns (L1, KL) (KL 0 without a synthetic set)."""
        self.network.train()
        batch, patch = self.options.batch_size, self.options.patch
        rainy, target = (t.to(self.derainer.device) for t in sample_patches(self.images, batch, patch, self.options.seed, step))
        output = self.network(rainy)[0]
        l1 = F.l1_loss(output, target)
        loss, kl = l1, 0.0
        if self.synthetic is not None:
            divergence = rain_kl(rainy - output, self.synthetic.sample(batch, step).to(self.derainer.device))
            loss = loss + self.options.kl_weight * divergence
            kl = divergence.item()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return l1.item(), kl

    def run_round(self, progress: Progress | None = None) -> dict[str, Any]:
        """Train one round, refresh the pseudo targets, save everything; returns the round's record."""
        number = self.completed + 1
        steps = self.options.steps_per_round
        lr = learning_rate(self.options, number)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        start = time.perf_counter()
        l1s, kls = [], []
        for k in range(steps):
            l1, kl = self.train_step(self.completed * steps + k)
            l1s.append(l1)
            kls.append(kl)
            if progress:
                progress(f"round {number}/{self.options.rounds}: training", k + 1, steps)
        trained = time.perf_counter()
        change = self.refresh_targets(progress)
        done = time.perf_counter()
        record = {
            "round": number, "steps": steps, "l1": float(np.mean(l1s)), "kl": float(np.mean(kls)), "lr": lr,
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

    def write_outputs(self, jobs: list[Job], on_done: Callable[[Job, Failure | None], None] | None = None) -> list[Failure]:
        """The adapted model's outputs on the original files (bit depth and alpha kept)."""
        self.network.eval()
        return run_jobs(self.derainer, jobs, on_done=on_done)

    def save(self) -> None:
        """Write model.safetensors, state.pt, metrics.jsonl (and the preview), each atomically."""
        self.out.mkdir(parents=True, exist_ok=True)
        save_safetensors(self.network.state_dict(), self.out / "model.safetensors", self.metadata)
        state = {
            "version": STATE_VERSION, "config": self._config(), "completed": self.completed,
            "network": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(), "history": self.history,
            "targets": [torch.from_numpy(image.target) for image in self.images],
            "initial": [torch.from_numpy(array) for array in self.initial],
        }  # fmt: skip
        with atomic_output(self.state_path) as tmp:
            torch.save(state, tmp)
        with atomic_output(self.out / "metrics.jsonl") as tmp:
            tmp.write_text("".join(json.dumps(record) + "\n" for record in self.history), encoding="utf-8")
        if self.previews:
            self.write_preview()

    def write_preview(self) -> Path:
        """previews/round_NNN.png: rainy | starting output | current output, one row per image."""
        rows = [[image.rainy, first, image.target] for image, first in zip(self.images, self.initial)]
        path = self.out / "previews" / f"round_{self.completed:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_image(path, LoadedImage(contact_sheet(rows).astype(np.float32) / 255.0, None, 8, False))

    def resume(self) -> None:
        """Continue from ``state.pt``; refuses a state made with other options, inputs or model."""
        if not self.state_path.is_file():
            raise DerainError(f"{self.state_path}: no saved state to resume from")
        try:
            state = torch.load(self.state_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch.load raises many types on damaged files
            raise DerainError(f"{self.state_path}: unreadable state ({exc})") from None
        if state.get("version") != STATE_VERSION:
            raise DerainError(f"{self.state_path}: state version {state.get('version')} is not {STATE_VERSION}")
        saved, current = state["config"], self._config()
        for key in ("options", "inputs", "synthetic", "architecture"):
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


def check_output_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """A fresh run needs a folder without a previous run (unless ``overwrite``); ``resume`` needs one."""
    if resume and overwrite:
        raise UsageError("--resume and --overwrite exclude each other")
    if resume and not (out / "state.pt").is_file():
        raise DerainError(f"{out / 'state.pt'}: no saved state to resume from")
    previous = [name for name in ("state.pt", "model.safetensors") if (out / name).exists()]
    if previous and not resume and not overwrite:
        raise DerainError(f"{out}: holds a previous run ({previous[0]}); pass --resume to continue it or --overwrite to start afresh")
