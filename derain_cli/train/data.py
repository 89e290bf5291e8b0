"""Training data: random same-position patches (with flips) from paired rainy / clean images.

Every patch is a pure function of (run seed, epoch, pair index), so data order and crops are the
same whatever the number of loader workers or processes, and a resumed run sees exactly the batches
an uninterrupted one would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, DistributedSampler, Sampler

from derain_cli.errors import DerainError
from derain_cli.imageio import image_size, open_image, read_image
from derain_cli.pairs import Pair, check_sizes, find_pairs

MAX_LISTED = 10


def _problems_error(root: Path, problems: list[str]) -> DerainError:
    shown = "; ".join(problems[:MAX_LISTED])
    more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
    return DerainError(f"{root}: {len(problems)} problem(s) with the training pairs: {shown}{more}")


def load_pairs(root: Path, patch: int) -> list[Pair]:
    """The pairs under ``root``; raises listing every unpaired file, size mismatch or image smaller than ``patch``."""
    found = find_pairs(root)
    problems = list(found.problems) + check_sizes(found.pairs)
    if not problems:
        small = [p for p in found.pairs if min(image_size(p.rainy)) < patch]
        problems = [f"{p.rainy}: {'x'.join(map(str, image_size(p.rainy)))} is smaller than the {patch} px patch" for p in small]
    if problems:
        raise _problems_error(root, problems)
    return found.pairs


def load_labels(pairs: list[Pair], folder: Path) -> list[Path]:
    """Each pair's label map ``folder/<name>.png`` (class ids, 255 = ignore); raises listing missing or mis-sized maps."""
    labels = [folder / f"{pair.name}.png" for pair in pairs]
    problems = [f"{path}: no label map for {pair.rainy}" for pair, path in zip(pairs, labels) if not path.is_file()]
    if not problems:
        problems = [
            f"{path}: size {'x'.join(map(str, image_size(path)))} differs from {pair.rainy}"
            for pair, path in zip(pairs, labels) if image_size(path) != image_size(pair.rainy)
        ]  # fmt: skip
    if problems:
        raise _problems_error(folder, problems)
    return labels


def _read_labels(path: Path) -> np.ndarray:
    with open_image(path) as image:
        if image.mode not in ("L", "P"):
            raise DerainError(f"{path}: a label map must be a single-channel (L or P mode) PNG of class ids, not {image.mode}")
        return np.asarray(image, dtype=np.uint8)


def _to_tensor(rgb: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


class PairedPatches(Dataset):
    """``dataset[(index, epoch)]`` -> (rainy, clean) 3 x patch x patch float tensors in [0, 1], plus the
    patch x patch class ids (int64) of the pair's label map when ``labels`` are given.

    Each pair gives ``patches_per_image`` patches an epoch (index ``i`` is pair ``i // patches_per_image``).
    The crop position and the horizontal / vertical flips are drawn from ``(seed, epoch, index)``.
    """

    def __init__(
        self, pairs: list[Pair], patch: int, seed: int = 0, patches_per_image: int = 1, flips: bool = True,
        labels: list[Path] | None = None,
    ) -> None:  # fmt: skip
        if not pairs:
            raise DerainError("no training pairs")
        self.pairs = pairs
        self.labels = labels
        self.patch = patch
        self.seed = seed
        self.patches_per_image = patches_per_image
        self.flips = flips

    def __len__(self) -> int:
        return len(self.pairs) * self.patches_per_image

    def __getitem__(self, key: tuple[int, int]) -> tuple[Tensor, ...]:
        index, epoch = key
        pair = self.pairs[index // self.patches_per_image]
        images = [read_image(pair.rainy).rgb, read_image(pair.clean).rgb]
        if self.labels is not None:
            images.append(_read_labels(self.labels[index // self.patches_per_image]))
        if any(image.shape[:2] != images[0].shape[:2] for image in images):
            raise DerainError(f"{pair.rainy}: size differs from {pair.clean} or its label map")
        rng = np.random.default_rng([self.seed, epoch, index])
        height, width = images[0].shape[:2]
        top = int(rng.integers(0, height - self.patch + 1))
        left = int(rng.integers(0, width - self.patch + 1))
        images = [image[top : top + self.patch, left : left + self.patch] for image in images]
        if self.flips:
            flip_h, flip_v = rng.random(2) < 0.5
            if flip_h:
                images = [image[:, ::-1] for image in images]
            if flip_v:
                images = [image[::-1] for image in images]
        patches = (_to_tensor(images[0]), _to_tensor(images[1]))
        if self.labels is None:
            return patches
        return (*patches, torch.from_numpy(np.ascontiguousarray(images[2])).long())


class EpochBatches(Sampler[list[tuple[int, int]]]):
    """Batches of ``(index, epoch)`` keys for one process, starting at a given step of the run.

    Order and sharding come from :class:`torch.utils.data.DistributedSampler` (seeded, reshuffled each
    epoch; one replica when not distributed); incomplete batches are dropped so every step has the
    same shape. Yields ``steps - start_step`` batches, crossing epochs as needed.
    """

    def __init__(
        self, size: int, batch_size: int, seed: int, start_step: int, steps: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.start_step, self.steps = start_step, steps
        self.steps_per_epoch = steps_per_epoch(size, batch_size, world_size)

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step)

    def _order(self, epoch: int) -> list[int]:
        sampler = DistributedSampler(
            range(self.size), num_replicas=self.world_size, rank=self.rank, shuffle=True, seed=self.seed, drop_last=True
        )
        sampler.set_epoch(epoch)
        return list(sampler)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while step < self.steps:
            epoch, position = divmod(step, self.steps_per_epoch)
            order = self._order(epoch)
            for batch in range(position, self.steps_per_epoch):
                if step >= self.steps:
                    return
                yield [(index, epoch) for index in order[batch * self.batch_size : (batch + 1) * self.batch_size]]
                step += 1


def steps_per_epoch(size: int, batch_size: int, world_size: int = 1) -> int:
    """Full batches per epoch for each of ``world_size`` processes (each takes ``batch_size`` pairs a step)."""
    steps = (size // world_size) // batch_size
    if steps == 0:
        raise DerainError(
            f"{size} training pair(s) are fewer than one batch of {batch_size} for each of {world_size} process(es); "
            "lower --batch-size"
        )
    return steps
