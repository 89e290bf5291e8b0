"""Shared fixtures: the reference material in ../shared (DERAIN_SHARED), skipped when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

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
