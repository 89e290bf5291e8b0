"""`--segment` on the commands: derain image (overlay, mask, shares), derain video (overlay clip), derain eval (mIoU),
and the missing-transformers error."""

import json
import os
import shutil
import subprocess
import sys
from fractions import Fraction

import av

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner
from video_clips import decode_rgb, make_clip

import derain_cli.segment
from conftest import noise_image
from derain_cli.cli import app
from derain_cli.segment import CITYSCAPES_CLASSES, Segmenter, mean_iou, overlay

runner = CliRunner()


def _image(path, h=22, w=34, seed=0):
    return noise_image(path, h, w, seed)


def _run(*args):
    return runner.invoke(app, [*map(str, args)])


def test_image_segment_writes_overlay_and_mask_of_the_derained_image(tmp_path, tiny_weights, tiny_segformer):
    src = _image(tmp_path / "x.png")
    result = _run("image", src, "-o", tmp_path / "o.png", "--weights", tiny_weights, "-d", "cpu", "-q",
                  "--segment", "--seg-model", tiny_segformer)  # fmt: skip
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "o.png") as out, Image.open(tmp_path / "o.seg.png") as seg:
        derained, blended = np.asarray(out.convert("RGB")), np.asarray(seg)
    with Image.open(tmp_path / "o.mask.png") as mask_file:
        assert mask_file.mode == "P"
        mask = np.asarray(mask_file)
    assert derained.shape[:2] == blended.shape[:2] == mask.shape == (22, 34)
    assert mask.max() < 19
    segmenter = Segmenter(str(tiny_segformer), device="cpu")
    np.testing.assert_array_equal(mask, segmenter.predict(derained))
    np.testing.assert_array_equal(blended, overlay(derained, mask, segmenter.palette))
    assert not (tmp_path / "o.seg.json").exists()


def test_folder_with_json_loads_the_model_once(tmp_path, tiny_weights, tiny_segformer, monkeypatch):
    loads = []

    class Counting(Segmenter):
        def __init__(self, *args, **kwargs):
            loads.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(derain_cli.segment, "Segmenter", Counting)  # `derain image` imports it when it runs
    (tmp_path / "in").mkdir()
    for k in range(3):
        _image(tmp_path / "in" / f"r{k}.jpg", h=16 + k, seed=k)
    result = _run("image", tmp_path / "in", "-o", tmp_path / "out", "-w", tiny_weights, "-d", "cpu", "-q",
                  "--seg-json", "--seg-model", tiny_segformer)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(loads) == 1
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(f"r{k}{s}" for k in range(3) for s in (".png", ".seg.png", ".mask.png", ".seg.json"))
    report = json.loads((tmp_path / "out" / "r2.seg.json").read_text())
    assert (report["width"], report["height"]) == (34, 18) and list(report["classes"]) == list(CITYSCAPES_CLASSES)


def test_existing_segmentation_output_is_not_replaced(tmp_path, tiny_weights, tiny_segformer):
    src = _image(tmp_path / "x.png")
    (tmp_path / "o.mask.png").write_bytes(b"keep")
    args = ["image", src, "-o", tmp_path / "o.png", "-w", tiny_weights, "-d", "cpu", "-q", "--segment",
            "--seg-model", tiny_segformer]  # fmt: skip
    result = _run(*args)
    assert result.exit_code == 1
    assert "o.mask.png already exists; pass --overwrite" in result.output
    assert (tmp_path / "o.mask.png").read_bytes() == b"keep" and not (tmp_path / "o.png").exists()
    assert _run(*args, "--overwrite").exit_code == 0
    assert Image.open(tmp_path / "o.mask.png").size == (34, 22)


def test_video_segment_writes_the_overlay_clip_with_the_input_timing(tmp_path, tiny_weights, tiny_segformer):
    clip = make_clip(tmp_path / "rain.mp4", width=32, height=24, frames=5, fps=12)
    result = _run("video", clip, "-o", tmp_path / "out.mp4", "-w", tiny_weights, "-d", "cpu", "-q",
                  "--segment", "--seg-model", tiny_segformer)  # fmt: skip
    assert result.exit_code == 0, result.output
    with av.open(str(tmp_path / "out.seg.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.average_rate) == (32, 24, Fraction(12))
    derained, blended = decode_rgb(tmp_path / "out.mp4"), decode_rgb(tmp_path / "out.seg.mp4")
    assert len(blended) == len(derained) == 5
    segmenter = Segmenter(str(tiny_segformer), device="cpu")
    for frame, seg in zip(derained, blended):
        expected = overlay(frame, segmenter.predict(frame), segmenter.palette)
        error, unblended = (np.abs(seg.astype(int) - other).mean() for other in (expected, frame))
        assert error < unblended / 2, (error, unblended)  # the colours are there (both files are lossy)


def test_segment_without_transformers_is_one_line_with_the_install_command(tmp_path, tiny_weights, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    src = _image(tmp_path / "x.png")
    result = _run("image", src, "-o", tmp_path / "o.png", "-w", tiny_weights, "-d", "cpu", "--segment",
                  "--seg-model", "segformer-b0-cityscapes")  # named: the default would fall back to the built-in ESPNet
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and 'pip install "derain-cli[segment]"' in lines[0]
    assert not (tmp_path / "o.png").exists()


def _paired_set(root, n=2):
    for k in range(1, n + 1):
        (root / "input").mkdir(parents=True, exist_ok=True)
        (root / "target").mkdir(exist_ok=True)
        _image(root / "input" / f"{k}.png", h=20, w=28, seed=10 + k)
        _image(root / "target" / f"{k}.png", h=20, w=28, seed=20 + k)
    return root


def _eval_json(data, weights, seg_model):
    result = _run("eval", "--data", data, "-m", "sapnet", "-w", weights, "-d", "cpu", "-q", "--json", "--segment", "--seg-model", seg_model)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_eval_reports_label_free_miou(tmp_path, tiny_weights, tiny_segformer):
    report = _eval_json(_paired_set(tmp_path / "set"), tiny_weights, tiny_segformer)
    assert report["n"] == 2
    assert report["segmentation"] == {"model": str(tiny_segformer), "reference": "its segmentation of the clean image"}
    for entry in (report["rainy"], report["models"]["sapnet"]):
        assert 0.0 <= entry["miou"] <= 1.0
    segmenter = Segmenter(str(tiny_segformer), device="cpu")
    expected = [
        mean_iou(segmenter.predict(_rgb_of(tmp_path / "set" / "input" / f"{k}.png")),
                 segmenter.predict(_rgb_of(tmp_path / "set" / "target" / f"{k}.png")), 19)
        for k in (1, 2)
    ]  # fmt: skip
    assert report["rainy"]["miou"] == pytest.approx(np.mean(expected), abs=1e-6)


def test_eval_uses_label_masks_when_the_set_has_them(tmp_path, tiny_weights, tiny_segformer):
    data = _paired_set(tmp_path / "set")
    (data / "labels").mkdir()
    segmenter = Segmenter(str(tiny_segformer), device="cpu")
    for k in (1, 2):  # label the rainy inputs with their own segmentation: the rainy mIoU must then be 1
        Image.fromarray(segmenter.predict(_rgb_of(data / "input" / f"{k}.png"))).save(data / "labels" / f"{k}.png")
    report = _eval_json(data, tiny_weights, tiny_segformer)
    assert report["rainy"]["miou"] == 1.0 and report["segmentation"]["reference"] == "labels/ masks"
    assert 0.0 <= report["models"]["sapnet"]["miou"] <= 1.0
    (data / "labels" / "2.png").unlink()
    result = _run("eval", "--data", data, "-w", tiny_weights, "-d", "cpu", "-q", "--seg-model", tiny_segformer)
    assert result.exit_code == 1 and "labels/2.png: label mask not found" in result.output


def _rgb_of(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _prefill_hub_cache(home, repo, folder):
    """Put ``folder`` in a Hugging Face cache as ``repo`` at branch main (what a first download leaves)."""
    cache = home / "hub" / f"models--{repo.replace('/', '--')}"
    commit = "0" * 40
    shutil.copytree(folder, cache / "snapshots" / commit)
    (cache / "refs").mkdir()
    (cache / "refs" / "main").write_text(commit)


@pytest.mark.slow
def test_default_model_comes_from_weights_toml_through_the_offline_hub_cache(tmp_path, tiny_weights, tiny_segformer):
    src = _image(tmp_path / "x.png")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    _prefill_hub_cache(tmp_path / "hf", "nvidia/segformer-b0-finetuned-cityscapes-1024-1024", tiny_segformer)
    done = subprocess.run(
        [sys.executable, "-m", "derain_cli", "image", str(src), "-o", str(tmp_path / "o.png"), "-w", str(tiny_weights),
         "-d", "cpu", "-q", "--segment"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "o.mask.png").size == Image.open(tmp_path / "o.png").size == (34, 22)
