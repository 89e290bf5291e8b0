"""Shared fixtures: the reference material in ../shared (DERAIN_SHARED), skipped when absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DERAIN_SHARED", REPO_ROOT.parent / "shared"))

torch.set_num_threads(min(2, torch.get_num_threads()))


def shared_file(relative: str) -> Path:
    """A file under the shared folder, or skip the test with the reason."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"shared reference file {path} not found (set DERAIN_SHARED to the shared folder)")
    return path


@pytest.fixture
def sapnet_weights() -> Path:
    return shared_file("weights/sapnet_rain100h_authors.pth")


@pytest.fixture
def prenet_weights() -> Path:
    return shared_file("weights/prenet_rain100h_authors.pth")


@pytest.fixture
def rain100h() -> Path:
    return shared_file("data/rain100h")


def noise_image(path: Path, height: int, width: int, seed: int = 0) -> Path:
    """Write a random RGB image (any format PIL infers from the suffix) and return its path."""
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A SAPNet checkpoint with random weights (seeded), as our .safetensors."""
    from derain_cli.checkpoints import architecture_metadata, save_safetensors
    from derain_cli.models import create_model

    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("weights") / "sapnet.safetensors"
    return save_safetensors(create_model("sapnet").state_dict(), path, architecture_metadata("sapnet"))


@pytest.fixture
def hf_home(tmp_path, monkeypatch) -> Path:
    """An empty, online Hugging Face home and no $DERAIN_WEIGHTS_DIR (huggingface_hub reads its env at import,
    so its constants are patched; subprocesses get the env variables)."""
    from huggingface_hub import constants

    home = tmp_path / "hf"
    for name, value in (("HF_HUB_CACHE", home / "hub"), ("HF_ASSETS_CACHE", home / "assets")):
        monkeypatch.setenv(name, str(value))
        monkeypatch.setattr(constants, name, str(value))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for env in ("HF_HUB_OFFLINE", "DERAIN_WEIGHTS_DIR"):
        monkeypatch.delenv(env, raising=False)
    return home


@pytest.fixture(scope="session")
def tiny_segformer(tmp_path_factory) -> Path:
    """A tiny random SegFormer with Cityscapes' 19 labels, saved with save_pretrained (skips without transformers)."""
    from tiny_segformer import save_tiny_segformer

    return save_tiny_segformer(tmp_path_factory.mktemp("segformer"))
