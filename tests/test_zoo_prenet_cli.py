"""`derain image` / `derain video --model NAME` for the zoo architectures: tiling, precision, video."""

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner
from video_clips import decode_rgb, make_clip, one_torch_thread  # noqa: F401  (fixture)

from conftest import shared_file
from derain_cli import Derainer
from derain_cli.cli import app

runner = CliRunner()
ZOO = [("vrgnet-prenet", "vrgnet_prenet_rain100h.pt"), ("brn", "brn_rain100h.pth"), ("aidnet", "aidnet_rain100h.pth")]


def _run(*args):
    result = runner.invoke(app, [*map(str, args), "--device", "cpu", "-q"])
    assert result.exit_code == 0, result.output


def _read(path):
    return np.asarray(Image.open(path), dtype=np.int16)


@pytest.mark.parametrize("model,file", ZOO)
def test_image_tiled_and_bf16_stay_close_to_the_whole_image_in_fp32(model, file, rain100h, tmp_path):
    weights = shared_file(f"weights/{file}")
    crop = np.asarray(Image.open(rain100h / "input" / "7.png").convert("RGB"))[:64, :96]
    src = tmp_path / "in.png"
    Image.fromarray(crop).save(src)
    variants = {"whole": ["--tile", "0", "--precision", "fp32"], "tiled": ["--tile", "48", "--precision", "fp32"],
                "bf16": ["--precision", "bf16"]}  # fmt: skip
    for name, extra in variants.items():
        _run("image", src, "-o", tmp_path / f"{name}.png", "--model", model, "--weights", weights, *extra)
    whole = _read(tmp_path / "whole.png")
    np.testing.assert_array_equal(whole, Derainer(model, weights, device="cpu", tile=0, precision="fp32")(crop))
    # overlapping 48-pixel tiles, far smaller than the receptive field (the fast path's bands are exact)
    assert np.abs(_read(tmp_path / "tiled.png") - whole).mean() < 2.0
    bf16 = np.abs(_read(tmp_path / "bf16.png") - whole)
    assert 0 < bf16.max() <= 12 and bf16.mean() < 1.0  # another arithmetic, yet close


@pytest.mark.parametrize("model,file", ZOO)
def test_video(model, file, tmp_path):
    weights = shared_file(f"weights/{file}")
    clip = make_clip(tmp_path / "rain.mp4", width=32, height=24, frames=4)
    _run("video", clip, "-o", tmp_path / "out.mp4", "--model", model, "--weights", weights)
    assert len(decode_rgb(tmp_path / "out.mp4")) == 4
