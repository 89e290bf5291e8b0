"""Bundled checkpoints: shipped in the package, verified like any source, there with no network at all."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from derain_cli.errors import DerainError
from derain_cli.weights import registry
from derain_cli.weights.download import WeightsUnavailableError, fetch_checkpoint
from derain_cli.weights.registry import BundledSource, load_registry


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _toml(tmp_path: Path, name: str, sha: str) -> Path:
    path = tmp_path / "weights.toml"
    path.write_text(
        f'[models.ours]\narchitecture = "sapnet"\n[[models.ours.sources]]\nbundled = "{name}"\nsha256 = "{sha}"\n'
        '[[models.ours.sources]]\nurl = "http://127.0.0.1:9/ours.safetensors"\nfilename = "ours.safetensors"\n'
        f'sha256 = "{"0" * 64}"\n'
    )
    return path


@pytest.fixture
def bundled_dir(tmp_path, monkeypatch, tiny_weights) -> Path:
    folder = tmp_path / "bundled"
    folder.mkdir()
    shutil.copy(tiny_weights, folder / "ours.safetensors")
    monkeypatch.setattr(registry, "BUNDLED_DIR", folder)
    return folder


def test_a_bundled_file_is_returned_verified_and_offline(bundled_dir, tmp_path, hf_home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entry = load_registry(_toml(tmp_path, "ours.safetensors", _sha(bundled_dir / "ours.safetensors"))).get("ours")
    assert isinstance(entry.sources[0], BundledSource)
    assert fetch_checkpoint(entry) == bundled_dir / "ours.safetensors"


def test_a_damaged_bundled_file_is_refused_and_named(bundled_dir, tmp_path, hf_home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entry = load_registry(_toml(tmp_path, "ours.safetensors", "1" * 64)).get("ours")
    with pytest.raises(WeightsUnavailableError, match="bundled ours.safetensors"):
        fetch_checkpoint(entry)


def test_a_bundled_name_must_stay_in_the_package_folder(tmp_path):
    with pytest.raises(DerainError, match="bundled must be a file name"):
        load_registry(_toml(tmp_path, "../outside.safetensors", "1" * 64))


def test_the_shipped_default_is_bundled_small_and_matches_its_hash():
    from derain_cli.weights.registry import DEFAULT_MODEL

    entry = load_registry().get(DEFAULT_MODEL)
    bundled = [s for s in entry.sources if isinstance(s, BundledSource)]
    assert bundled, f"{DEFAULT_MODEL} has no bundled source"
    path = bundled[0].path
    assert path.is_file() and path.stat().st_size < 2 * 1024**2
    assert _sha(path) == bundled[0].sha256


def test_derain_image_works_with_no_network_and_an_empty_cache(tmp_path):
    """The promise of the bundled default: a fresh install derains offline, at once, with no Hub retries."""
    photo = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(photo)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "DERAIN_WEIGHTS"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               HF_ENDPOINT="http://127.0.0.1:9")  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "derain_cli", "image", str(photo), "-o", str(tmp_path / "out.png"), "-q"],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "out.png").size == (64, 48)
    assert not list((tmp_path / "cache").rglob("*.safetensors")), "the bundled file must be used in place, not copied"
    assert time.perf_counter() - started < 120


def test_every_bundled_model_matches_its_hash_and_its_declared_shape():
    """weights.toml's architecture and options must build the network the bundled file fills, tensor for tensor."""
    from derain_cli.checkpoints import load_state_dict
    from derain_cli.models import create_model

    bundled = [(e, s) for e in load_registry().models.values() for s in e.sources if isinstance(s, BundledSource)]
    assert {"lite", "sapnet-realrain-v4"} <= {entry.name for entry, _ in bundled}
    for entry, source in bundled:
        assert _sha(source.path) == source.sha256, entry.name
        state = load_state_dict(source.path)
        expected = create_model(entry.architecture, **entry.options).state_dict()
        assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in expected.items()}, entry.name


def test_the_bundled_light_model_is_under_a_megabyte():
    """Issue 26: lite ships inside the package under 1 MB (its weights in fp16)."""
    (source,) = [s for s in load_registry().get("lite").sources if isinstance(s, BundledSource)]
    assert source.path.stat().st_size < 1024**2
