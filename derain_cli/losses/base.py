"""What every training loss shares: the step's tensors (``LossBatch``) and frozen helper networks."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from derain_cli.checkpoints import check_fits, load_state_dict

T = TypeVar("T")
F = TypeVar("F", bound="FrozenNet")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class LossBatch:
    """One training step's tensors: the network's ``output`` (un-clamped), ``clean``, ``rainy`` and its extras.

    ``memo`` computes a value once per step, so terms that share a frozen network (PCL and LPIPS share
    VGG-16) run it once on each image.
    """

    output: Tensor
    clean: Tensor
    rainy: Tensor
    extras: Any = None
    labels: Tensor | None = None
    _memo: dict[object, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: object, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


class FrozenNet(nn.Module):
    """A helper network that is never trained: no parameter wants a gradient and it stays in eval mode.

    Gradients still flow *through* it to its input (the derained image), never into its weights.
    """

    @classmethod
    def empty(cls: type[F], *args: Any, **kwargs: Any) -> F:
        """An instance with allocated but uninitialised tensors (for loading weights: skips random init)."""
        with torch.device("meta"):
            net = cls(*args, **kwargs)
        return net.to_empty(device="cpu")

    def freeze(self: F) -> F:
        for p in self.parameters():
            p.requires_grad_(False)
        return super().train(False)

    def train(self: F, mode: bool = True) -> F:  # noqa: ARG002 - a frozen net stays in eval mode
        return super().train(False)


class ImageNetNormalize(nn.Module):
    """``(x - mean) / std`` per RGB channel (ImageNet's statistics by default), for inputs in [0, 1]."""

    def __init__(self, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> None:
        super().__init__()
        self.mean, self.std = tuple(mean), tuple(std)

    def forward(self, x: Tensor) -> Tensor:
        mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        return (x - mean) / std


def load_mapped(module: nn.Module, path: str | os.PathLike[str], rename: Callable[[str], str] = str) -> nn.Module:
    """Load the tensors of checkpoint ``path`` that ``module`` uses, after renaming each key with ``rename``.

    Keys the module does not have (a classifier head, say) are ignored; every tensor the module needs
    must be there with the right shape (checked, naming the first that is not). BatchNorm's
    ``num_batches_tracked`` counters, which some exports drop, keep their current value.
    """
    expected = module.state_dict()
    state = {rename(k): v for k, v in load_state_dict(path).items()}
    state = {k: v.to(expected[k].dtype) for k, v in state.items() if k in expected}
    for key, value in expected.items():
        if key.endswith("num_batches_tracked"):
            state.setdefault(key, value)
    check_fits(module, state, str(path))
    module.load_state_dict(state)
    return module
