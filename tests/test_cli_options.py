"""What the help pages say about the shared options: true to the code, short, and never cutting a name."""

import re

import pytest
from typer.testing import CliRunner

from derain_cli.cli import app
from derain_cli.weights.registry import DEFAULT_MODEL, VIDEO_DEFAULT_MODEL, load_registry

runner = CliRunner()


def _help(*args: str, columns: int = 80) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


def _flat(text: str) -> str:
    """The help text with the panel borders and line breaks taken out (rich wraps the cells)."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_eval_names_its_real_default_model():
    assert f"(default {DEFAULT_MODEL}; on video sets {VIDEO_DEFAULT_MODEL}, as derain video)" in _flat(_help("eval", columns=200))


def test_video_runs_the_video_default_and_image_the_photo_default():
    assert VIDEO_DEFAULT_MODEL != DEFAULT_MODEL  # measured apart: docs/video.md, docs/real-rain.md
    assert f"[default: {VIDEO_DEFAULT_MODEL}]" in _flat(_help("video", columns=200))
    assert f"[default: {DEFAULT_MODEL}]" in _flat(_help("image", columns=200))


@pytest.mark.parametrize("command", ["image", "video", "eval"])
def test_precision_and_segment_help_say_what_the_code_does(command):
    text = _flat(_help(command, columns=200))
    assert "bf16 on CPUs that have it" in text and "fp32 on the CPU" not in text
    assert "The built-in ESPNets need nothing extra" in text


@pytest.mark.parametrize("command", ["image", "video", "eval", "online-update", "train"])
def test_model_names_are_never_cut(command):
    registry = load_registry()
    names = [*registry.names(), *registry.segmentation]
    wide, narrow = _help(command, columns=300), _help(command)
    shown = [name for name in names if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", wide)]
    assert shown  # the default model at least
    for name in shown:
        assert name in narrow, name


def test_image_help_is_short():
    assert len(_help("image").splitlines()) <= 65
