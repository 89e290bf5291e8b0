"""`derain weights list|download|verify` and the acceptance path: a pre-filled Hub cache used offline."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from huggingface_hub import constants
from PIL import Image
from typer.testing import CliRunner

from conftest import shared_file
from derain_cli import Derainer
from derain_cli.cli import app
from derain_cli.weights.cache import url_cache_path
from derain_cli.weights.convert import convert_checkpoint
from derain_cli.weights.registry import DEFAULT_MODEL, load_registry

runner = CliRunner()
COMMIT = "4721512" + "0" * 33


def _cache_authors_file(name, authors_file):
    """Put an authors' file where its URL source's download would have left it."""
    entry = load_registry().get(name)
    target = url_cache_path(entry, entry.sources[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(authors_file, target)
    return target


def test_list_shows_the_catalogue_on_stdout_within_80_columns(hf_home, monkeypatch, prenet_weights):
    monkeypatch.setenv("COLUMNS", "80")
    _cache_authors_file("prenet", prenet_weights)
    result = runner.invoke(app, ["weights", "list"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and max(len(line) for line in result.stdout.splitlines()) <= 80
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip()}
    assert rows["sapnet-realrain-v4"][1] == "*" and rows["sapnet-realrain-v2"][1] == "derain"  # the photo default; the video default's two models:
    assert rows["sapnet-realrain"][1] == "v" and rows["s2vd-nturain"][1] == "v"
    assert rows["sapnet-rain100h"][1:] == ["Rain100H", "train", "28.07", "26.49", "MIT", "no"]
    assert rows["prenet-rain100h"][1:] == ["Rain100H", "train", "29.50", "-", "none", "stated", "yes"]
    assert rows["hcn"][-1] == "-" and rows["lpips-vgg"][1:] == ["BAPPS", "BSD-2-Clause", "no"]
    for name in ("vrgnet-prenet-rain1400", "espnetv2-cityscapes", "segformer-b0-cityscapes"):
        assert name in rows  # whole names, never cut
    assert "Loss networks" in result.stdout and "derain weights info NAME" in result.stdout


def test_list_json_is_complete(hf_home, prenet_weights):
    _cache_authors_file("prenet", prenet_weights)
    result = runner.invoke(app, ["weights", "list", "--json"])
    assert result.exit_code == 0, result.output
    models = {m["name"]: m for m in json.loads(result.stdout)["models"]}
    registry = load_registry()
    assert set(models) == set(registry.models) | set(registry.segmentation)
    prenet = models["prenet-rain100h"]
    assert (prenet["kind"], prenet["cached"], prenet["aliases"]) == ("deraining", "yes", ["prenet"])
    assert prenet["scores"]["rain100h"]["psnr"] == 29.5 and prenet["scores"]["gtrain_dev"] is None
    assert prenet["sources"][1]["url"].endswith("net_latest.pth") and prenet["sources"][1]["type"] == "url"
    assert models["vgg16-imagenet"]["kind"] == "loss network" and models["espnet-camvid"]["kind"] == "segmentation"
    assert models["sapnet-realrain-v4"]["default"] and not models["sapnet-realrain-v3"]["default"] and not prenet["default"]
    assert models["sapnet-realrain"]["video_default"] and not models["sapnet-realrain-v4"]["video_default"]


def test_info_shows_everything_about_one_entry():
    result = runner.invoke(app, ["weights", "info", "aidnet-rain100h"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    entry = load_registry().get("aidnet-rain100h")
    for value in (entry.attribution, entry.claim, entry.rain100h.command, entry.sources[0].url, entry.sources[0].sha256):
        assert " ".join(value.split()) in text
    fields = json.loads(runner.invoke(app, ["weights", "info", "espnet-camvid", "--json"]).stdout)
    assert fields["kind"] == "segmentation" and fields["classes"][0] == "Sky"
    result = runner.invoke(app, ["weights", "info", "nope"])
    assert result.exit_code == 2 and "unknown name 'nope'" in result.stderr


def test_info_shows_the_heavy_rain_route_of_the_default():
    route = load_registry().get(DEFAULT_MODEL).route
    result = runner.invoke(app, ["weights", "info", DEFAULT_MODEL], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert f"heavy-rain route: to {route['model']} from rain strength {route['low']:g}, wholly from {route['high']:g}" in text
    fields = json.loads(runner.invoke(app, ["weights", "info", DEFAULT_MODEL, "--json"]).stdout)
    assert fields["route"] == route and json.loads(runner.invoke(app, ["weights", "info", "sapnet-realrain-v3", "--json"]).stdout)["route"] is None


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


def test_verify_prints_whole_paths_and_knows_a_copy_by_its_bytes(hf_home, tmp_path, monkeypatch):
    published = shared_file("weights/lpips_v0.1_vgg_lin.pth")  # not a name weights.toml lists for lpips-vgg
    folder = tmp_path / "a-folder-name-long-enough-that-an-80-column-table-would-cut-it" / "weights"
    folder.mkdir(parents=True)
    shutil.copy(published, folder / published.name)
    monkeypatch.setenv("DERAIN_WEIGHTS_DIR", str(folder))
    result = runner.invoke(app, ["weights", "verify", "lpips-vgg"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert f"ok        lpips-vgg: {folder / published.name} ($DERAIN_WEIGHTS_DIR)" in result.stdout.splitlines()
