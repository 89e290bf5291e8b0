"""`derain export`: ONNX graphs with free batch/height/width that ONNX Runtime runs like Derainer(fp32)."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pytest
from PIL import Image

from cli_checks import assert_refused, invoke
from conftest import shared_file
from derain_cli.derainer import Derainer
from derain_cli.errors import DerainError
from derain_cli.export import onnx as export_onnx_module
from derain_cli.export.onnx import MAX_GREY_LEVELS, export_onnx, onnx_session, run_onnx
from derain_cli.imageio import read_rgb8

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e .[export])")

# (architecture, authors' checkpoint under ../shared/weights): two PReNet-family graphs and one of another family
EXPORTED = [
    ("sapnet", "weights/sapnet_rain100h_authors.pth"),
    ("prenet", "weights/prenet_rain100h_authors.pth"),
    ("jorder-e", "weights/jordere_practical.pt"),
]


def _crop(image: np.ndarray, height: int, width: int, top: int = 0, left: int = 0) -> np.ndarray:
    return np.ascontiguousarray(image[top : top + height, left : left + width])


@pytest.mark.parametrize("model, weights", EXPORTED)
def test_export_at_one_size_runs_at_others_within_one_grey_level(model, weights, tmp_path):
    photo = read_rgb8(shared_file("data/rain100h/input/1.png"))  # a real rainy image, 480 x 320
    result = export_onnx(model, tmp_path / "m.onnx", _crop(photo, 48, 64), shared_file(weights))
    assert result.path.is_file() and result.parity_grey_levels <= MAX_GREY_LEVELS
    session = onnx_session(result.path)
    derainer = Derainer(model, shared_file(weights), device="cpu", precision="fp32")
    for height, width, top, left in ((40, 72, 100, 200), (57, 35, 200, 30)):  # neither is the export size
        rgb = _crop(photo, height, width, top, left)
        out = run_onnx(session, rgb)
        assert out.shape == rgb.shape
        reference = derainer.derain_float(rgb.astype(np.float32) / 255.0)
        assert np.abs(out - reference).max() * 255.0 <= MAX_GREY_LEVELS
        assert np.abs(out - rgb / 255.0).max() * 255.0 > 5  # the network ran: the output is not the input


def test_cli_writes_metadata_and_a_batch_of_any_size_runs(tmp_path, monkeypatch):
    weights = shared_file("weights/prenet_rain100h_authors.pth")
    monkeypatch.setenv("DERAIN_WEIGHTS_DIR", str(weights.parent))  # the registry's copy, found by name
    photo = shared_file("data/rain100h/input/2.png")
    check = tmp_path / "check.png"
    Image.fromarray(_crop(read_rgb8(photo), 40, 48)).save(check)
    result = invoke("export", "prenet-rain100h", "-o", tmp_path / "p.onnx", "--check-image", check, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["max_grey_level_difference"] <= MAX_GREY_LEVELS and data["bytes"] == (tmp_path / "p.onnx").stat().st_size
    assert "grey levels" in result.stderr
    session = onnx_session(tmp_path / "p.onnx")
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["name"] == "prenet-rain100h" and meta["architecture"] == "prenet"
    assert "Ren" in meta["attribution"] and meta["licence"] == "none stated" and "[0, 1]" in meta["input_convention"]
    batch = np.random.default_rng(0).random((2, 3, 24, 40), dtype=np.float32)
    assert session.run(None, {"rainy": batch})[0].shape == (2, 3, 24, 40)


def test_the_default_exports_its_first_network_and_says_what_is_left_out(tmp_path):
    heavy_rain = read_rgb8(shared_file("data/rain100h/input/3.png"))[:64, :96]  # routed: rain strength far above 10
    routed = Derainer(device="cpu", precision="fp32")
    assert routed.route is not None
    result = invoke("export", "-o", tmp_path / "d.onnx", "--check-image", _save(heavy_rain, tmp_path / "c.png"))
    assert result.exit_code == 0, result.output
    assert f"note: not exported: the heavy-rain route to {routed.route.model}" in " ".join(result.stderr.split())
    meta = onnx_session(tmp_path / "d.onnx").get_modelmeta().custom_metadata_map
    assert meta["name"] == routed.model_name and "first network alone" in meta["not_included"]
    out = run_onnx(onnx_session(tmp_path / "d.onnx"), heavy_rain)
    first = Derainer(device="cpu", precision="fp32", route=False).derain_float(heavy_rain / 255.0)
    assert np.abs(out - first).max() * 255.0 <= MAX_GREY_LEVELS
    assert np.abs(routed.derain_float(heavy_rain / 255.0) - first).max() * 255.0 > 5  # the crop is routed: the file is not the default's output


def _save(rgb: np.ndarray, path):
    Image.fromarray(rgb).save(path)
    return path


def test_spanet_is_refused_with_the_reason(tmp_path):
    result = invoke("export", "spanet", "-o", tmp_path / "s.onnx")
    assert_refused(result, 2, "spanet", "IRNN")
    assert not (tmp_path / "s.onnx").exists()


def test_a_video_model_is_refused_before_anything_loads(tmp_path):
    result = invoke("export", "s2vd", "-o", tmp_path / "v.onnx")  # no checkpoint needed: refused first
    assert_refused(result, 2, "s2vd", "video model")
    assert not (tmp_path / "v.onnx").exists()


def test_a_failed_parity_check_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(export_onnx_module, "MAX_GREY_LEVELS", -1.0)  # any real difference now fails
    weights = shared_file("weights/prenet_rain100h_authors.pth")
    rgb = _crop(read_rgb8(shared_file("data/rain100h/input/3.png")), 32, 32)
    with pytest.raises(DerainError, match="grey levels"):
        export_onnx("prenet", tmp_path / "p.onnx", rgb, weights)
    assert list(tmp_path.iterdir()) == []


def test_missing_extra_is_one_line_naming_it(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name.split(".")[0] in ("onnx", "onnxruntime"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    result = invoke("export", "prenet", "-o", tmp_path / "p.onnx")
    assert_refused(result, 1, "pip install -e .[export]")
