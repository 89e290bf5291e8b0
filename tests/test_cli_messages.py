"""Wrong output with exit 0, and the messages around errors: each case of issue 20 that is not about files' bytes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from cli_checks import assert_refused, invoke, snapshot
from conftest import noise_image
from paired_data import write_pairs
from PIL import Image

from derain_cli import Derainer
from derain_cli.imageio import read_image

ENV = {k: v for k, v in os.environ.items() if k != "DERAIN_DEBUG"} | {"NO_COLOR": "1"}


def _derain_cli(*args: object, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "derain_cli", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=300, **kwargs)  # fmt: skip


@pytest.mark.parametrize("channels", [1, 3])
def test_a_float_tiff_in_unit_range_is_read_as_such(tmp_path, tiny_weights, channels):
    pixels = np.random.default_rng(0).random((18, 22, channels), dtype=np.float32)
    src = tmp_path / "in.tif"
    assert cv2.imwrite(str(src), pixels[..., ::-1] if channels == 3 else pixels[..., 0])
    loaded = read_image(src)
    expected_rgb = np.repeat(pixels, 3, 2) if channels == 1 else pixels
    np.testing.assert_allclose(loaded.rgb, expected_rgb, atol=1e-6)
    result = invoke("image", src, "-o", tmp_path / "out.tif", "-w", tiny_weights, "--device", "cpu", "-q")
    assert result.exit_code == 0, result.output
    out = read_image(tmp_path / "out.tif")
    reference = Derainer("sapnet", tiny_weights, device="cpu").derain_float(loaded.rgb)
    if channels == 1:
        reference = np.repeat(reference.mean(axis=2, keepdims=True), 3, 2)
    assert out.bit_depth == 16 and out.rgb.mean() > 0.1
    np.testing.assert_allclose(out.rgb, reference, atol=2 / 65535)


def _truncated_clip(path: Path, frames: int = 12, keep: float = 0.5) -> Path:
    """An mp4 with its index first (faststart) cut in the middle of its frames, as an interrupted copy leaves it."""
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(frames):
            image = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_a_truncated_video_is_an_error_and_leaves_no_output(tmp_path, tiny_weights):
    (tmp_path / "in").mkdir()
    clip = _truncated_clip(tmp_path / "in" / "cut.mp4")
    before = snapshot(tmp_path / "in")
    (tmp_path / "out").mkdir()
    result = invoke("video", clip, "-o", tmp_path / "out" / "o.mp4", "-w", tiny_weights, "--device", "cpu", "-q")
    assert_refused(result, 1, str(clip), "truncated", "of the 12 frames")
    assert snapshot(tmp_path / "out") == {} and snapshot(tmp_path / "in") == before


USAGE = {
    "video --fps 0": (["video", "frames", "-o", "o.mp4", "--fps", "0"], "--fps must be between 0.01 and 1000"),
    "video --fps nan": (["video", "frames", "-o", "o.mp4", "--fps", "nan"], "--fps must be between 0.01 and 1000"),
    "online-update --lr inf": (["online-update", "frames", "-o", "run", "--lr", "inf"], "--lr must be a finite positive"),
    "online-update --lr nan": (["online-update", "frames", "-o", "run", "--lr", "nan"], "--lr must be a finite positive"),
    "train --lr inf": (["train", "-D", "pairs", "-o", "run", "--lr", "inf", "--losses", "ssim"], "--lr must be a finite"),
    "train --val nope": (["train", "-D", "pairs", "-o", "run", "--val", "nope", "--losses", "ssim"], "--val nope:"),
    "image --format gif": (["image", "missing.png", "-o", "out", "--format", "gif"], "unknown output format 'gif'"),
    "image --tile -5": (["image", "missing.png", "-o", "out", "--tile", "-5"], "at least 32 pixels, got -5"),
}


@pytest.mark.parametrize("case", USAGE)
def test_usage_errors_exit_2_in_one_line_and_write_nothing(tmp_path, tiny_weights, monkeypatch, case):
    args, message = USAGE[case]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "frames").mkdir()
    noise_image(tmp_path / "frames" / "f1.png", 16, 20)
    write_pairs(tmp_path / "pairs", count=2, size=(24, 20))
    before = snapshot(tmp_path)
    extra = ["--workers", "0", "--patch", "16"] if args[0] == "train" else ["-w", tiny_weights] if args[0] != "image" else []
    line = assert_refused(invoke(*args, *extra, "--device", "cpu", "-q"), 2, message)
    assert "--dataset" not in line
    assert snapshot(tmp_path) == before  # no run folder, config.json or output left behind


@pytest.mark.parametrize("value, traceback", [("0", False), ("no", False), ("", False), ("1", True), ("true", True)])
def test_derain_debug_takes_only_yes_values(tmp_path, value, traceback):
    result = invoke("image", noise_image(tmp_path / "a.png", 8, 8), "-o", tmp_path / "o.png",
                    "-w", tmp_path / "missing.pth", env={"DERAIN_DEBUG": value})  # fmt: skip
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit) != traceback  # with debug, the exception propagates


@pytest.mark.slow  # a fresh process: over 20 s on the loaded 2-core machine
def test_opencv_log_lines_are_silenced_around_the_error(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = _derain_cli("image", broken, "-o", tmp_path / "out", "-w", tmp_path / "missing.pth")
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        f"error: {tmp_path / 'missing.pth'}: checkpoint file not found"]


@pytest.mark.slow  # a fresh process: over 20 s on the loaded 2-core machine
def test_a_result_that_cannot_reach_a_closed_stdout_is_an_error(tmp_path, tiny_weights):
    write_pairs(tmp_path / "pairs", count=1, size=(24, 20))
    result = _derain_cli("eval", "--data", tmp_path / "pairs", "-w", tiny_weights, "--json", "-q", "--device", "cpu",
                         preexec_fn=lambda: os.close(1))  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == "error: cannot write the result: standard output is closed"


@pytest.mark.slow  # a fresh process: over 20 s on the loaded 2-core machine
def test_a_reader_that_goes_away_ends_the_output_quietly():
    process = subprocess.Popen([sys.executable, "-m", "derain_cli", "image", "--help"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=ENV)  # fmt: skip
    process.stdout.close()  # `derain image --help | head -0`
    assert process.stderr.read() == b""
    assert process.wait(timeout=300) == 1


def _animated(path: Path, frames: int) -> Path:
    rng = np.random.default_rng(1)
    images = [Image.fromarray(rng.integers(0, 256, (12, 14, 3), dtype=np.uint8)) for _ in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp", "pages.tif"])
def test_only_the_first_frame_is_derained_with_a_warning(tmp_path, tiny_weights, name):
    src = _animated(tmp_path / name, 3)
    result = invoke("image", src, "-o", tmp_path / "out.png", "-w", tiny_weights, "--device", "cpu", "-q")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {src}: 3 frames (animated or multi-page); only the first is derained "
                        "(use `derain video` on a folder of its frames for all)"]
    assert (tmp_path / "out.png").is_file()


def test_a_single_frame_gets_no_warning(tmp_path, tiny_weights):
    result = invoke("image", _animated(tmp_path / "one.gif", 1), "-o", tmp_path / "out.png", "-w", tiny_weights,
                    "--device", "cpu", "-q")  # fmt: skip
    assert result.exit_code == 0 and "warning" not in result.stderr
