"""The progress reporter without a terminal: plain lines at a bounded rate (every tenth, or 30 s), for every command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from cli_checks import invoke
from conftest import noise_image
from paired_data import write_pairs
from video_clips import make_clip

from derain_cli.cli import progress


def _lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_a_line_at_the_first_item_each_tenth_and_the_end(capsys):
    with progress.progress_bar("img") as reporter:
        task = reporter.add_task("Deraining", total=100)
        for _ in range(100):
            reporter.advance(task)
    lines = _lines(capsys.readouterr().err, "Deraining: ")
    assert [re.search(r"(\d+)/100", line).group(1) for line in lines] == ["1", *map(str, range(10, 101, 10))]
    assert lines[-1].startswith("Deraining: 100/100 (100 %), ") and " img/s, " in lines[-1]


def test_a_long_step_still_gets_a_line_every_period(capsys, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.3)
    with progress.progress_bar("step") as reporter:
        task = reporter.add_task("Training", total=1000)
        time.sleep(1.6)  # no step ends: the period alone brings lines
        reporter.advance(task)
    lines = _lines(capsys.readouterr().err, "Training: ")
    assert len(lines) >= 3 and lines[0].startswith("Training: 0/1000 (0 %)")


def test_quiet_prints_nothing(capsys):
    with progress.progress_bar("img", quiet=True) as reporter:
        task = reporter.add_task("Deraining", total=3)
        for _ in range(3):
            reporter.advance(task)
    assert capsys.readouterr().err == ""


@pytest.mark.slow  # a fresh process: over 20 s on the loaded 2-core machine
def test_image_batch_in_a_subprocess_whose_stderr_is_a_pipe(tmp_path, tiny_weights):
    (tmp_path / "in").mkdir()
    for k in range(12):
        noise_image(tmp_path / "in" / f"{k:02d}.png", 12, 14, k)
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "FORCE_TERMINAL")} | {"NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "derain_cli", "image", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                             "-w", str(tiny_weights), "--device", "cpu"], stderr=subprocess.PIPE, text=True, env=env,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stderr, "Deraining: ")
    # the first image, then each new tenth: int(10 k / 12) grows at k = 2, 3, 4, 5, 6, 8, 9, 10, 11, 12
    assert [re.search(r"(\d+)/12", line).group(1) for line in lines] == ["1", "2", "3", "4", "5", "6", "8", "9", "10",
                                                                          "11", "12"]


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "photos").mkdir()
    for k in range(3):
        noise_image(tmp_path / "photos" / f"{k}.png", 24, 28, k)
    write_pairs(tmp_path / "pairs", count=3, size=(24, 20))
    make_clip(tmp_path / "clip.mp4", frames=3)
    return tmp_path


COMMANDS = {
    "eval": (["eval", "--data", "{t}/pairs"], "Evaluating: 3/3 (100 %)"),
    "video": (["video", "{t}/clip.mp4", "-o", "{t}/out.mp4"], "Deraining: 3/3 (100 %)"),
    "online-update": (["online-update", "{t}/photos", "-o", "{t}/run", "--rounds", "1", "--patch", "16",
                       "--steps-per-round", "1"], "round 1/1: L1 "),  # fmt: skip
    "train": (["train", "-D", "{t}/pairs", "-o", "{t}/run", "--losses", "ssim", "--patch", "16", "--batch-size", "1",
               "--max-steps", "3", "--workers", "0"], "step 3/3 epoch 1 loss "),  # fmt: skip
}


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.slow) if c == "online-update" else c for c in COMMANDS])
def test_every_command_reports_in_plain_lines(inputs, tiny_weights, command):
    args, expected = COMMANDS[command]
    weights = [] if command == "train" else ["-w", tiny_weights]
    result = invoke(*[a.format(t=inputs) for a in args], *weights, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert any(line.startswith(expected) for line in result.stderr.splitlines()), result.stderr
