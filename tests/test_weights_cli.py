"""`derain weights list|download|verify` and the acceptance path: a pre-filled Hub cache used offline."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from huggingface_hub import constants
from PIL import Image
from typer.testing import CliRunner

from derain_cli import Derainer
from derain_cli.cli import app
from derain_cli.weights.cache import url_cache_path
from derain_cli.weights.convert import convert_checkpoint
from derain_cli.weights.registry import load_registry

runner = CliRunner()
COMMIT = "4721512" + "0" * 33


def _cache_authors_file(name, authors_file):
    """Put an authors' file where its URL source's download would have left it."""
    entry = load_registry().get(name)
    target = url_cache_path(entry, entry.sources[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(authors_file, target)
    return target


def test_list_shows_the_table_with_cache_state(hf_home, monkeypatch, prenet_weights):
    monkeypatch.setenv("COLUMNS", "320")
    _cache_authors_file("prenet", prenet_weights)
    result = runner.invoke(app, ["weights", "list"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in result.output.splitlines() if line.startswith("│") and line.split("│")[1].strip()}
    assert rows["sapnet-rain100h"] == ["sapnet", "180,483", "Rain100H train (1800 pairs)", "-", "28.07 / 0.8674", "26.49 / 0.7995", "MIT", "no"]
    assert rows["prenet-rain100h"][1:] == ["168,963", "Rain100H train (1800 pairs)", "-", "29.50 / 0.8990", "-", "none stated", "yes"]
    assert rows["prenet-real"][4] == "25.33 / 0.8380" and rows["hcn"][4] == "-" and rows["hcn"][-1] == "-"
    assert rows["aidnet-rain100h"][3] == "Rain100H 31.21 / 0.921"  # the paper's claim beside our scores
    assert "nvidia/segformer-b0-finetuned-cityscapes-1024-1024" in result.output


def test_download_prints_the_path_last_and_verify_flags_corruption(hf_home, monkeypatch, prenet_weights):
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cached = _cache_authors_file("prenet", prenet_weights)
    result = runner.invoke(app, ["weights", "download", "prenet"])
    assert result.exit_code == 0 and result.stdout.splitlines()[-1] == str(cached)
    assert runner.invoke(app, ["weights", "verify", "prenet"]).exit_code == 0
    cached.write_bytes(cached.read_bytes()[:-1] + b"x")
    result = runner.invoke(app, ["weights", "verify"])
    assert result.exit_code == 1 and "MISMATCH" in result.output
    assert "error: 1 local copy does not match weights.toml" in result.output


@pytest.mark.slow
def test_prefilled_hub_cache_offline_download_image_then_corruption(tmp_path, sapnet_weights):
    """The issue's acceptance path, through fresh processes that read HF_HOME and HF_HUB_OFFLINE."""
    hub = load_registry().get("sapnet").hub_source
    repo = tmp_path / "hf" / "hub" / f"models--{hub.hf_repo.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / hub.revision).write_text(COMMIT)
    cached = repo / "snapshots" / COMMIT / hub.hf_file
    cached.parent.mkdir(parents=True)
    assert convert_checkpoint(sapnet_weights, cached) == hub.sha256
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "DERAIN_WEIGHTS"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")

    def derain(*args):
        return subprocess.run([sys.executable, "-m", "derain_cli", *map(str, args)],
                              capture_output=True, text=True, env=env, timeout=300)

    download = derain("weights", "download", "sapnet")
    assert download.returncode == 0, download.stderr
    assert download.stdout.splitlines()[-1] == str(cached)

    rainy = np.random.default_rng(1).integers(0, 256, (20, 28, 3), dtype=np.uint8)
    Image.fromarray(rainy).save(tmp_path / "x.png")
    image = derain("image", tmp_path / "x.png", "-o", tmp_path / "y.png", "--model", "sapnet", "--device", "cpu", "-q")
    assert image.returncode == 0, image.stderr
    expected = Derainer("sapnet", weights=sapnet_weights, device="cpu")(rainy)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "y.png")), expected)

    cached.write_bytes(cached.read_bytes()[:-4] + b"\0\0\0\0")
    broken = derain("weights", "download", "sapnet")
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
    assert broken.stderr.startswith(f"error: no verified checkpoint for sapnet-rain100h (hub {hub.hf_repo}")
    assert f"sha256 mismatch for {cached}: expected {hub.sha256}, got " in broken.stderr
