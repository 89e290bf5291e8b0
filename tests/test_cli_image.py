"""`derain image`: file, folder and glob forms, formats, and every error path."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from derain_cli import Derainer
from conftest import noise_image
from derain_cli.cli import app

runner = CliRunner()


def _image(path, h=18, w=26, seed=0):
    return noise_image(path, h, w, seed)


def _derain(*args):
    return runner.invoke(app, ["image", "--device", "cpu", "-q", *map(str, args)])


def test_single_file_matches_the_api(tmp_path, tiny_weights):
    src = _image(tmp_path / "in.jpg")
    result = _derain(src, "-o", tmp_path / "out.png", "--weights", tiny_weights)
    assert result.exit_code == 0, result.output
    expected = Derainer("sapnet", tiny_weights, device="cpu")(np.asarray(Image.open(src).convert("RGB")))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), expected)


def test_folder_recursive_mirrors_subfolders_and_formats(tmp_path, tiny_weights):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    _image(tmp_path / "in" / "a.png")
    _image(tmp_path / "in" / "sub" / "b.jpg", seed=1)
    (tmp_path / "in" / "notes.txt").write_text("ignored")
    result = _derain(tmp_path / "in", "-o", tmp_path / "out", "-r", "--format", "webp", "--weights", tiny_weights)
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*")) == [
        "a.webp", "sub/b.webp"]


def test_glob_input(tmp_path, tiny_weights):
    for k in range(3):
        _image(tmp_path / f"r{k}.png", seed=k)
    result = _derain(str(tmp_path / "r*.png"), "-o", tmp_path / "out", "--weights", tiny_weights)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["r0.png", "r1.png", "r2.png"]


def test_batch_with_broken_file_keeps_going_and_exits_1(tmp_path, tiny_weights):
    (tmp_path / "in").mkdir()
    _image(tmp_path / "in" / "good1.png")
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    _image(tmp_path / "in" / "good2.png", seed=2)
    result = _derain(tmp_path / "in", "-o", tmp_path / "out", "--weights", tiny_weights)
    assert result.exit_code == 1
    assert "broken.png" in result.output and "1 of 3 input(s) failed" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good1.png", "good2.png"]


def test_missing_input_and_unmatched_glob(tmp_path, tiny_weights):
    result = _derain(tmp_path / "nope.png", str(tmp_path / "*.jpg"), "-o", tmp_path / "out", "--weights", tiny_weights)
    assert result.exit_code == 1
    assert "nope.png: file not found" in result.output
    assert "no file matches" in result.output


def test_input_is_never_overwritten_without_flag(tmp_path, tiny_weights):
    src = _image(tmp_path / "x.png")
    before = src.read_bytes()
    result = _derain(src, "-o", src, "--weights", tiny_weights)
    assert result.exit_code == 1 and "--overwrite" in result.output
    assert src.read_bytes() == before
    assert _derain(src, "-o", src, "--weights", tiny_weights, "--overwrite").exit_code == 0
    assert src.read_bytes() != before


def test_existing_output_is_kept_without_flag(tmp_path, tiny_weights):
    src = _image(tmp_path / "x.png")
    (tmp_path / "o.png").write_bytes(b"precious")
    assert _derain(src, "-o", tmp_path / "o.png", "--weights", tiny_weights).exit_code == 1
    assert (tmp_path / "o.png").read_bytes() == b"precious"


def test_unwritable_output_leaves_nothing(tmp_path, tiny_weights):
    src = _image(tmp_path / "x.png")
    (tmp_path / "blocker").write_text("a file, not a folder")
    result = _derain(src, "-o", tmp_path / "blocker" / "out.png", "--weights", tiny_weights)
    assert result.exit_code == 1 and "blocker" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "x.png"]


@pytest.mark.parametrize("args,code,message", [
    (["--model", "nonet"], 2, "unknown model 'nonet'"),
    (["--device", "tpu"], 2, "unknown device 'tpu'"),
    (["--device", "cpu", "--precision", "fp16"], 2, "fp16 needs a CUDA device"),
    (["--precision", "int8"], 2, "int8 is not offered"),
])
def test_bad_options_are_usage_errors(tmp_path, tiny_weights, args, code, message):
    result = _derain(_image(tmp_path / "x.png"), "-o", tmp_path / "o.png", "--weights", tiny_weights, *args)
    assert result.exit_code == code and message in result.output


def test_bf16_precision_on_the_cpu_stays_close_to_fp32(tmp_path, tiny_weights):
    src = _image(tmp_path / "x.png")
    for precision in ("fp32", "bf16"):
        result = _derain(src, "-o", tmp_path / f"{precision}.png", "--weights", tiny_weights, "--precision", precision)
        assert result.exit_code == 0, result.output
    fp32, bf16 = (np.asarray(Image.open(tmp_path / f"{p}.png"), dtype=np.int16) for p in ("fp32", "bf16"))
    assert 0 < np.abs(fp32 - bf16).max() <= 8  # computed in another arithmetic, yet close


def test_checkpoint_that_does_not_fit(tmp_path, tiny_weights):
    result = _derain(_image(tmp_path / "x.png"), "-o", tmp_path / "o.png", "--weights", tiny_weights, "--model", "prenet")
    assert result.exit_code == 1 and "does not fit" in result.output and "sapnet.safetensors" in result.output
    assert not (tmp_path / "o.png").exists()


def test_console_script_prints_one_line_without_traceback(tmp_path, tiny_weights):
    (tmp_path / "fake.png").write_text("not an image")
    cmd = [sys.executable, "-m", "derain_cli", "image", str(tmp_path / "fake.png"), "-o", str(tmp_path / "o.png"),
           "--weights", str(tiny_weights), "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "fake.png: not an image file" in proc.stderr
    debug = subprocess.run([cmd[0], "-m", "derain_cli", "--debug", *cmd[3:]], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_skip_existing_resumes_and_never_rewrites(tmp_path, tiny_weights):
    (tmp_path / "in").mkdir()
    for k in range(3):
        _image(tmp_path / "in" / f"r{k}.png", seed=k)
    assert _derain(tmp_path / "in", "-o", tmp_path / "out", "--weights", tiny_weights).exit_code == 0
    (tmp_path / "out" / "r1.png").unlink()  # as if interrupted before r1 was written
    kept = (tmp_path / "out" / "r0.png").stat().st_mtime_ns
    result = runner.invoke(app, ["image", "--device", "cpu", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                                 "--weights", str(tiny_weights), "--skip-existing"])
    assert result.exit_code == 0, result.output
    assert "Skipped 2 image(s)" in result.output and "Derained 1 image(s)" in result.output
    assert (tmp_path / "out" / "r1.png").exists() and (tmp_path / "out" / "r0.png").stat().st_mtime_ns == kept
    both = _derain(tmp_path / "in", "-o", tmp_path / "out", "--weights", tiny_weights, "--skip-existing", "--overwrite")
    assert both.exit_code == 2 and "contradict" in both.output
    workers = _derain(tmp_path / "in", "-o", tmp_path / "o2", "--weights", tiny_weights, "--workers", "2")
    assert workers.exit_code == 2 and "need --ray" in workers.output


@pytest.mark.parametrize("inputs", [["in"], ["in/a.png", "in/b.png"], ["in/*.png"]])
def test_an_image_named_output_for_several_inputs_is_refused(tmp_path, tiny_weights, inputs):
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        _image(tmp_path / "in" / f"{name}.png")
    result = _derain(*[tmp_path / i for i in inputs], "-o", tmp_path / "out.png", "--weights", tiny_weights)
    assert result.exit_code == 2 and "-o must name a folder" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out.png").exists()


def test_an_output_suffix_we_cannot_write_is_refused(tmp_path, tiny_weights):
    src = _image(tmp_path / "9.png")
    result = _derain(src, "-o", tmp_path / "x.gif", "--weights", tiny_weights)
    assert result.exit_code == 2 and "cannot write .gif images" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.gif").exists()


def test_a_folder_without_r_notes_the_sub_folders_it_leaves_out(tmp_path, tiny_weights):
    for folder in ("in", "in/sub1", "in/sub2", "in/.hidden"):
        (tmp_path / folder).mkdir()
    _image(tmp_path / "in" / "a.png")
    _image(tmp_path / "in" / "sub1" / "b.png")
    result = runner.invoke(app, ["image", "--device", "cpu", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                                 "--weights", str(tiny_weights)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "note: 2 sub-folders of the input left out; -r (--recursive) includes them" in result.stderr
    result = _derain(tmp_path / "in", "-o", tmp_path / "out2", "--weights", tiny_weights, "-r")
    assert "sub-folder" not in result.stderr and (tmp_path / "out2" / "sub1" / "b.png").exists()


def test_a_video_model_is_refused_before_anything_is_loaded(tmp_path, monkeypatch):
    """No checkpoint is fetched (an empty weights folder, offline) and no output is written."""
    monkeypatch.setenv("DERAIN_WEIGHTS_DIR", str(tmp_path))
    src = _image(tmp_path / "x.png")
    for model in ("s2vd", "s2vd-nturain"):
        result = _derain(src, "-o", tmp_path / "o.png", "--model", model)
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == ["error: s2vd-nturain is a video model: use derain video"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]
