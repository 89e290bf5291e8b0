"""Random stand-ins for the downloaded loss networks, saved in the published files' formats (no network)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from derain_cli.losses.lpips import LPIPS_CHANNELS
from derain_cli.losses.vgg import VGG16_CONFIG, VGG16Features


def _he(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=generator) * math.sqrt(2.0 / fan_in)


def save_vgg16(path: Path, seed: int = 0) -> Path:
    """VGG-16 in timm's ``vgg16.tv_in1k`` layout (features.N.*, plus a classifier tensor the loader must skip)."""
    generator = torch.Generator().manual_seed(seed)
    state, channels, index = {}, 3, 0
    for item in VGG16_CONFIG:
        if item == "M":
            index += 1
            continue
        state[f"features.{index}.weight"] = _he((int(item), channels, 3, 3), generator)
        state[f"features.{index}.bias"] = torch.randn(int(item), generator=generator) * 0.01
        channels, index = int(item), index + 2
    state["head.fc.weight"] = torch.zeros(10, 4096)
    save_file(state, str(path))
    return path


def save_lpips(path: Path, seed: int = 0) -> Path:
    """LPIPS linear layers as the ``lpips`` package ships them (a torch pickle, ``lin{k}.model.1.weight``)."""
    generator = torch.Generator().manual_seed(seed)
    state = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=generator) for k, c in enumerate(LPIPS_CHANNELS)}
    torch.save(state, path)
    return path



@pytest.fixture(scope="session")
def vgg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random VGG-16 saved as timm's ``vgg16.tv_in1k`` safetensors."""
    return save_vgg16(tmp_path_factory.mktemp("vgg") / "vgg16.safetensors")


@pytest.fixture(scope="session")
def lpips_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random LPIPS linear layers saved like the ``lpips`` package's ``v0.1/vgg.pth``."""
    return save_lpips(tmp_path_factory.mktemp("lpips") / "vgg.pth")


@pytest.fixture(scope="session")
def vgg(vgg_file: Path) -> VGG16Features:
    """The stand-in VGG-16 with every layer the losses read."""
    return VGG16Features.from_file(vgg_file)


def image_batch(seed: int, n: int = 2, size: int = 32, requires_grad: bool = False) -> torch.Tensor:
    """A reproducible N x 3 x size x size batch in [0, 1]."""
    x = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))
    return x.requires_grad_(requires_grad)


def assert_frozen(net: torch.nn.Module) -> None:
    """No parameter of ``net`` wants or received a gradient, and it is in eval mode."""
    assert not net.training
    for name, p in net.named_parameters():
        assert not p.requires_grad, name
        assert p.grad is None, name
