"""Hostile input files, one table per command: each is one error line naming it, no traceback, no stray
output, inputs unchanged, and the rest of the batch processed (the files are made by the tests)."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import noise_image
from derain_cli.cli import app
from derain_cli.errors import DerainError, printable
from derain_cli.imageio import MAX_PIXELS
from hostile_files import NON_UTF8_NAME, fifo, huge_png, jpeg_claiming, png_claiming, truncated_png

runner = CliRunner()
LIMIT = f"{MAX_PIXELS:,} pixels"

# name of the hostile file, how it is made, what its error line says
CASES = {
    "png-header-60000": ("claims.png", png_claiming, LIMIT),
    "jpeg-header-60000": ("claims.jpg", jpeg_claiming, LIMIT),
    "real-png-20000": ("huge.png", huge_png, LIMIT),
    "truncated": ("cut.png", truncated_png, "truncated"),
    "fifo": ("f.png", fifo, "not a regular file"),
    "newline-in-name": ("two\nlines.png", truncated_png, "truncated"),
    "non-utf8-name": (NON_UTF8_NAME, truncated_png, "truncated"),
}


def _cases(*left_out: str) -> list:
    return [pytest.param(*case, id=key) for key, case in CASES.items() if key not in left_out]


def _regular_files(folder: Path) -> dict[str, str]:
    """Relative name -> sha256 of every regular file under ``folder`` (FIFOs are not opened)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*") if stat.S_ISREG(p.lstat().st_mode)
    }  # fmt: skip


def _all_names(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def _errors(result) -> list[str]:
    assert "Traceback" not in result.output
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def _assert_names_the_file(line: str, bad: Path, reason: str) -> None:
    assert line.startswith(f"error: {printable(str(bad))}: "), line
    assert reason in line and "\n" not in line


def _invoke(*args):
    return runner.invoke(app, [*map(str, args)])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name,make,reason", _cases())
def test_image(tmp_path, tiny_weights, name, make, reason):
    folder = tmp_path / "in"
    folder.mkdir()
    good = [noise_image(folder / "a.png", 12, 16), noise_image(folder / "z.png", 12, 16, seed=1)]
    bad = make(folder / name)
    before = _regular_files(folder)
    result = _invoke("image", good[0], bad, good[1], "-o", tmp_path / "out", "--weights", tiny_weights, "--device", "cpu", "-q")
    assert result.exit_code == 1
    errors = _errors(result)
    assert len(errors) == 2 and errors[1] == "error: 1 of 3 input(s) failed", errors
    _assert_names_the_file(errors[0], bad, reason)
    assert _all_names(tmp_path / "out") == ["a.png", "z.png"]
    assert _regular_files(folder) == before


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name,make,reason", _cases("fifo"))  # a FIFO in a folder is not an image file: not listed
def test_eval(tmp_path, tiny_weights, name, make, reason):
    data = tmp_path / "data"
    for sub in ("input", "target"):
        (data / sub).mkdir(parents=True)
        for seed, stem in enumerate(("a", "z", Path(name).stem)):
            noise_image(data / sub / f"{stem}.png", 12, 16, seed)
    (data / "input" / f"{Path(name).stem}.png").unlink()
    bad = make(data / "input" / name)
    before = _regular_files(data)
    result = _invoke("eval", "--data", data, "-w", tiny_weights, "--device", "cpu", "--json", "-q",
                     "--save-outputs", tmp_path / "out")  # fmt: skip
    assert result.exit_code == 1
    errors = _errors(result)
    assert len(errors) == 2 and errors[1] == "error: 1 of 3 pair(s) failed", errors
    _assert_names_the_file(errors[0], bad, reason)
    assert json.loads(result.stdout)["n"] == 2
    assert [p.name for p in sorted((tmp_path / "out").rglob("*.*"))] == ["a.png", "z.png"]
    assert _regular_files(data) == before


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name,make,reason", _cases("fifo"))  # a FIFO in the frame folder is not a frame: skipped
def test_video_image_sequence(tmp_path, tiny_weights, name, make, reason):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in (1, 2):
        noise_image(frames / f"{index}.png", 12, 16, index)
    bad = make(frames / name)
    before = _regular_files(frames)
    result = _invoke("video", frames, "-o", tmp_path / "out" / "clip.mp4", "--weights", tiny_weights, "--device", "cpu", "-q")
    assert result.exit_code == 1
    errors = _errors(result)
    assert len(errors) == 1, errors
    _assert_names_the_file(errors[0], bad, reason)
    assert _all_names(tmp_path / "out") == []  # no video, no partial (the folder itself may have been made)
    assert _regular_files(frames) == before


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name,make,reason", _cases("fifo", "truncated", "newline-in-name", "non-utf8-name"))
def test_train_data(tmp_path, name, make, reason):
    """Sizes are checked from the headers before anything runs (a truncated body shows only when it is read)."""
    data = tmp_path / "data"
    for sub in ("input", "target"):
        (data / sub).mkdir(parents=True)
        for seed, stem in enumerate(("a", Path(name).stem)):
            noise_image(data / sub / f"{stem}.png", 12, 16, seed)
    (data / "input" / f"{Path(name).stem}.png").unlink()
    bad = make(data / "input" / name)
    before = _regular_files(data)
    result = _invoke("train", "-D", data, "-o", tmp_path / "run", "--losses", "ssim", "--patch", 8, "--batch-size", 1,
                     "--max-steps", 1, "--workers", 0, "--device", "cpu")  # fmt: skip
    assert result.exit_code == 1
    errors = _errors(result)
    assert len(errors) == 1 and printable(str(bad)) in errors[0] and reason in errors[0], errors
    assert _all_names(tmp_path / "run") == []
    assert _regular_files(data) == before


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name,make,reason", _cases())
def test_online_update(tmp_path, tiny_weights, name, make, reason):
    folder = tmp_path / "in"
    folder.mkdir()
    good = [noise_image(folder / "a.png", 12, 16), noise_image(folder / "z.png", 12, 16, seed=1)]
    bad = make(folder / name)
    before = _regular_files(folder)
    out = tmp_path / "out"
    result = _invoke("online-update", good[0], bad, good[1], "-o", out, "--weights", tiny_weights, "--rounds", 1,
                     "--steps-per-round", 1, "--patch", 8, "--batch-size", 1, "--device", "cpu", "-q")  # fmt: skip
    assert result.exit_code == 1
    errors = _errors(result)
    assert len(errors) == 2 and errors[1] == "error: 1 of 3 input(s) failed", errors
    _assert_names_the_file(errors[0], bad, reason)
    assert _all_names(out) == ["derained", "derained/a.png", "derained/z.png", "metrics.jsonl", "model.safetensors", "state.pt"]
    assert _regular_files(folder) == before


@pytest.mark.parametrize("name,make,reason", _cases("fifo", "truncated", "newline-in-name", "non-utf8-name"))
def test_label_maps_go_through_the_same_guard(tmp_path, name, make, reason):
    from derain_cli.segment.downstream import read_label_mask
    from derain_cli.train.data import _read_labels

    bad = make(tmp_path / name)
    for reader in (read_label_mask, _read_labels):
        with pytest.raises(DerainError, match=reason) as info:
            reader(bad)
        assert str(info.value).startswith(str(bad))


def test_a_fifo_in_a_folder_is_skipped_not_waited_for(tmp_path, tiny_weights):
    folder = tmp_path / "in"
    folder.mkdir()
    noise_image(folder / "a.png", 12, 16)
    fifo(folder / "f.png")
    result = _invoke("image", folder, "-o", tmp_path / "out", "--weights", tiny_weights, "--device", "cpu", "-q")
    assert result.exit_code == 0, result.output
    assert _all_names(tmp_path / "out") == ["a.png"]


def test_output_format_limits_are_checked_before_deraining(tmp_path, tiny_weights):
    folder = tmp_path / "in"
    folder.mkdir()
    tall = folder / "tall.png"
    Image.fromarray(np.zeros((16400, 3, 3), np.uint8)).save(tall)
    noise_image(folder / "small.png", 12, 16)
    result = _invoke("image", folder, "-o", tmp_path / "out", "--format", "webp", "--weights", tiny_weights,
                     "--device", "cpu", "-q")  # fmt: skip
    assert result.exit_code == 1
    errors = _errors(result)
    assert len(errors) == 2 and "3x16400" in errors[0] and "16383" in errors[0], errors
    assert errors[0].startswith(f"error: {tall}: ")
    assert _all_names(tmp_path / "out") == ["small.webp"]
