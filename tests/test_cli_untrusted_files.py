"""Checkpoints and weights.toml files are untrusted input: every command refuses bad ones in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_checks import assert_refused, invoke, snapshot
from conftest import noise_image
from paired_data import write_pairs
from video_clips import make_clip

from derain_cli.checkpoints import save_safetensors
from derain_cli.models import create_model


def _inputs(root: Path) -> dict[str, list[object]]:
    """For each command, its arguments up to the model options (inputs under ``root/in``, outputs under ``root/out``)."""
    src, out = root / "in", root / "out"
    (src / "photos").mkdir(parents=True)
    noise_image(src / "photos" / "a.png", 20, 24)
    make_clip(src / "clip.mp4", frames=2)
    write_pairs(src / "pairs", count=1, size=(24, 20))
    out.mkdir()
    return {
        "image": ["image", src / "photos", "-o", out, "--device", "cpu", "-q"],
        "video": ["video", src / "clip.mp4", "-o", out / "clip.mp4", "--device", "cpu", "-q"],
        "eval": ["eval", "--data", src / "pairs", "--device", "cpu", "-q"],
        "online-update": ["online-update", src / "photos", "-o", out / "run", "--rounds", "1", "--device", "cpu", "-q"],
    }


COMMANDS = ["image", "video", "eval", "online-update"]
BAD_OPTIONS = [
    ({"bogus": 1}, "unknown option 'bogus'"),
    ({"stages": "abc"}, "option 'stages' of sapnet must be int"),
    ({"stages": 1000000}, "must be in 1..12"),
    ({"stages": 0}, "must be in 1..12"),
    ({"stages": 4.0}, "must be int"),
    ({"attention": 1}, "must be bool"),
]


def _checkpoint(path: Path, options: object, scale: float = 1.0) -> Path:
    state = create_model("sapnet").state_dict()
    metadata = {"format": "pt", "architecture": "sapnet", "options": json.dumps(options)}
    return save_safetensors({k: v * scale for k, v in state.items()}, path, metadata)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("options, problem", BAD_OPTIONS, ids=[json.dumps(o) for o, _ in BAD_OPTIONS])
def test_checkpoint_metadata_options_are_checked(tmp_path, command, options, problem):
    args = _inputs(tmp_path)[command]
    weights = _checkpoint(tmp_path / "bad.safetensors", options)
    before = snapshot(tmp_path / "in")
    assert_refused(invoke(*args, "-m", "sapnet", "-w", weights), 1, str(weights), problem)
    assert snapshot(tmp_path / "in") == before
    assert snapshot(tmp_path / "out") == {}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path, command, value):
    args = _inputs(tmp_path)[command]
    weights = _checkpoint(tmp_path / "nan.safetensors", {}, scale=value)
    assert_refused(invoke(*args, "-m", "sapnet", "-w", weights), 1, str(weights), "non-finite")
    assert snapshot(tmp_path / "out") == {}


TOML_CASES = [
    ("sources = 3", "[models.mine] field 'sources' must be a list, got 3"),
    ("sources = [3]", "[models.mine.sources] must be a table, got 3"),
    ("aliases = 'm'", "[models.mine] field 'aliases' must be a list"),
    ("aliases = ['m', 3]", "field 'aliases' must be a list of strings"),
    ("options = 3", "[models.mine] field 'options' must be a table"),
    ("options = { stages = 0 }", "[models.mine]: option 'stages' of sapnet must be in 1..12, got 0"),
    ("options = { bogus = 1 }", "[models.mine]: unknown option 'bogus'"),
    ("rain100h = { psnr = 'high' }", "[models.mine.rain100h] field 'psnr' must be a number"),
    ("description = 3", "[models.mine] field 'description' must be a string"),
    ("sources = [{ url = 'https://example.org/w.pth', filename = '../../escape.pth', sha256 = '" + "0" * 64 + "' }]",
     "filename must be a file name under the weights cache, got '../../escape.pth'"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("line, problem", TOML_CASES, ids=[line for line, _ in TOML_CASES])
def test_weights_toml_schema(tmp_path, command, line, problem):
    args = _inputs(tmp_path)[command]
    toml = tmp_path / "weights.toml"
    toml.write_text(f'[models.mine]\narchitecture = "sapnet"\n{line}\n')
    result = invoke(*args, "-m", "mine", env={"DERAIN_WEIGHTS_TOML": str(toml)})
    assert_refused(result, 1, str(toml), problem)
    assert snapshot(tmp_path / "out") == {}


@pytest.mark.parametrize("args", [["weights", "list"], ["weights", "download", "mine"]])
def test_weights_commands_check_the_schema_too(tmp_path, args):
    toml = tmp_path / "weights.toml"
    toml.write_text('[models.mine]\narchitecture = "sapnet"\nsources = 3\n')
    assert_refused(invoke(*args, env={"DERAIN_WEIGHTS_TOML": str(toml)}), 1, str(toml), "'sources'")


def test_a_sane_recorded_variant_still_runs(tmp_path):
    args = _inputs(tmp_path)["image"]
    weights = _checkpoint(tmp_path / "ok.safetensors", {"stages": 2})
    result = invoke(*args, "-m", "sapnet", "-w", weights)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "a.png").is_file()
