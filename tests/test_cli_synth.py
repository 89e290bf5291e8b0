"""`derain synth` end to end: the paired folder it writes, its log, videos, refusals, and eval/train reading it."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from derain_cli.checkpoints import architecture_metadata, save_safetensors
from derain_cli.cli import app
from derain_cli.models import create_model
from derain_cli.synth import RainParams, RainRenderer
from derain_cli.synth.folder import image_seed
from test_synth import clean_image, streak_angle
from video_clips import make_clip

runner = CliRunner()


def synth(*args: object) -> object:
    return runner.invoke(app, ["synth", "-q", *map(str, args)])


@pytest.fixture
def clean_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "clean"
    (folder / "sub").mkdir(parents=True)
    for index, name in enumerate(("a.png", "b.jpg", "sub/c.png")):
        Image.fromarray(clean_image(64, 80, seed=index)).save(folder / name, quality=95)
    return folder


def log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "synth.jsonl").read_text().splitlines()]


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_writes_pairs_and_a_log_that_reproduces_them(clean_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = synth(clean_dir, "-r", "-o", out, "--preset", "light", "--seed", "7", "--angle", "12")
    assert result.exit_code == 0, result.output
    names = ["a", "b", "sub_c"]
    assert sorted(p.stem for p in (out / "input").iterdir()) == names
    assert sorted(p.stem for p in (out / "target").iterdir()) == names
    # the target is the clean image, pixel for pixel (the JPEG decoded as the renderer saw it)
    np.testing.assert_array_equal(pixels(out / "target" / "b.png"), pixels(clean_dir / "b.jpg"))
    lines = {line["input"]: line for line in log(out)}
    assert set(lines) == {f"input/{n}.png" for n in names}
    line = lines["input/a.png"]
    assert line["preset"] == "light" and line["seed"] == image_seed(7, "a") and line["params"]["angle"] == 12.0
    assert line["source"] == str(clean_dir / "a.png") and line["target"] == "target/a.png"
    params = RainParams(**line["params"])
    clean = pixels(clean_dir / "a.png")
    np.testing.assert_array_equal(RainRenderer(*clean.shape[:2], params).frame(clean), pixels(out / "input" / "a.png"))


def test_same_seed_same_folder_per_image_versions_differ(clean_dir: Path, tmp_path: Path) -> None:
    for run in ("one", "two"):
        result = synth(clean_dir / "a.png", "-o", tmp_path / run, "--seed", "3", "--per-image", "3")
        assert result.exit_code == 0, result.output
    versions = [pixels(tmp_path / "one" / "input" / f"a_{k}.png") for k in range(3)]
    for k in range(3):
        np.testing.assert_array_equal(versions[k], pixels(tmp_path / "two" / "input" / f"a_{k}.png"))
        np.testing.assert_array_equal(pixels(tmp_path / "one" / "target" / f"a_{k}.png"), pixels(clean_dir / "a.png"))
    assert np.abs(versions[0].astype(int) - versions[1].astype(int)).mean() > 1
    # a seed depends on the name, not the order of the inputs: adding an input changes nothing else
    result = synth(clean_dir / "b.jpg", clean_dir / "a.png", "-o", tmp_path / "three", "--seed", "3", "--per-image", "3")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(versions[1], pixels(tmp_path / "three" / "input" / "a_1.png"))


def test_refusals_and_bad_input(clean_dir: Path, tmp_path: Path) -> None:
    (clean_dir / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    result = synth(clean_dir, "-o", out)
    assert result.exit_code == 1
    assert "broken.png: not an image file" in result.output and "1 input(s) failed" in result.output
    assert len(log(out)) == 2  # a.png and b.jpg rendered all the same
    before = pixels(out / "input" / "a.png")
    result = synth(clean_dir / "a.png", "-o", out, "--seed", "1")
    assert result.exit_code == 1 and "already exists; pass --overwrite" in result.output
    np.testing.assert_array_equal(pixels(out / "input" / "a.png"), before)
    result = synth(clean_dir / "a.png", "-o", out, "--seed", "1", "--overwrite")
    assert result.exit_code == 0 and not np.array_equal(pixels(out / "input" / "a.png"), before)
    assert len(log(out)) == 2  # the line about a.png replaced, b.jpg's kept
    for args, message in [
        ((clean_dir, "-o", clean_dir / "out"), "is inside the input folder"),
        ((out / "input" / "a.png", "-o", out), "lies inside the output folder"),
        ((clean_dir / "b.jpg", "-o", clean_dir / "a.png"), "-o takes a folder"),
        ((clean_dir / "a.png", "-o", tmp_path / "x", "--preset", "monsoon"), "unknown rain preset"),
        ((clean_dir / "a.png", "-o", tmp_path / "x", "--veil", "1.5"), "--veil out of range"),
        ((clean_dir / "a.png", "-o", tmp_path / "x", "--airlight", "1,2"), "--airlight must be R,G,B"),
    ]:
        result = synth(*args)
        assert result.exit_code == 2 and message in result.output, result.output
        assert "Traceback" not in result.output
    assert not (clean_dir / "out").exists() and not (tmp_path / "x").exists()


def test_video_gives_a_rainy_and_a_clean_clip_frame_for_frame(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", width=64, height=48, frames=5)
    out = tmp_path / "out"
    result = synth(clip, "-o", out, "--preset", "heavy", "--noise", "0", "--jpeg", "0")
    assert result.exit_code == 0, result.output
    frames = {}
    for side in ("input", "target"):
        with av.open(str(out / side / "clip.mp4")) as container:
            frames[side] = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(clip)) as container:
        original = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames["input"]) == len(frames["target"]) == len(original) == 5
    for clean, target, rainy in zip(original, frames["target"], frames["input"]):
        assert np.abs(clean.astype(int) - target.astype(int)).mean() < 3  # re-encoded, otherwise unchanged
        assert np.abs(rainy.astype(int) - target.astype(int)).mean() > 3  # rain on it
    (line,) = log(out)
    assert line["frames"] == 5 and line["input"] == "input/clip.mp4" and line["params"]["noise"] == 0.0


@pytest.fixture
def tiny_prenet(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return save_safetensors(create_model("prenet").state_dict(), tmp_path / "tiny.safetensors", architecture_metadata("prenet"))


def test_eval_and_train_read_the_synth_folder(clean_dir: Path, tmp_path: Path, tiny_prenet: Path) -> None:
    out = tmp_path / "out"
    assert synth(clean_dir, "-o", out, "--per-image", "2").exit_code == 0
    result = runner.invoke(app, ["eval", "--data", str(out), "-m", "prenet", "-w", str(tiny_prenet), "--json", "-q", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 4 and 10 < report["rainy"]["psnr"] < 60
    for dataset in (str(out), f"synth:{clean_dir},preset=veil,{out},weight=2"):
        run = tmp_path / f"run{len(dataset)}"
        args = ["train", "--device", "cpu", "--workers", "0", "--model", "prenet", "--weights", str(tiny_prenet),
                "--dataset", dataset, "--losses", "l1", "--batch-size", "2", "--patch", "32", "--max-steps", "2", "-o", str(run), "-q"]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


def test_two_inputs_with_one_output_name_the_second_is_refused_whole(clean_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(clean_image(40, 40)).save(other / "a.png")
    out = tmp_path / "out"
    result = synth(clean_dir / "a.png", other / "a.png", "-o", out, "--per-image", "2")
    assert result.exit_code == 1 and "is already the output of" in result.output
    assert [line["source"] for line in log(out)] == [str(clean_dir / "a.png")] * 2
    np.testing.assert_array_equal(pixels(out / "target" / "a_1.png"), pixels(clean_dir / "a.png"))


def test_rain_falls_down_the_upright_picture_of_a_rotated_clip(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "portrait.mp4", width=160, height=128, frames=2, rotation=90)
    out = tmp_path / "out"
    result = synth(clip, "-o", out, "--angle", "25", "--angle-jitter", "1", "--density", "12", "--length", "60",
                   "--brightness", "0.8", "--veil", "0", "--blur", "0", "--noise", "0", "--jpeg", "0", "--drops", "0")  # fmt: skip
    assert result.exit_code == 0, result.output
    frames = {}
    for side in ("input", "target"):
        with av.open(str(out / side / "portrait.mp4")) as container:
            assert container.streams.video[0].codec_context.width == 160  # coded orientation kept
            frames[side] = next(container.decode(video=0)).to_ndarray(format="rgb24")
    upright = [np.ascontiguousarray(np.rot90(frames[side], 1)) for side in ("input", "target")]
    assert streak_angle(*upright) == pytest.approx(25, abs=6)


def test_a_missing_input_is_one_error_line_and_a_failure(tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", str(tmp_path / "nosuch"), "-o", str(tmp_path / "p")])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {tmp_path / 'nosuch'}: file not found"]
    assert not (tmp_path / "p").exists()


def test_sub_folders_left_out_without_r_get_a_note(clean_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", str(clean_dir), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "note: 1 sub-folder of the input left out; -r (--recursive) includes them" in result.stderr


@pytest.mark.parametrize("garbage", ["not json at all", "[1, 2]", '{"no": "input"}'])
def test_a_garbage_line_in_an_existing_log_stops_the_run_before_rendering(clean_dir: Path, tmp_path: Path, garbage: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "synth.jsonl").write_text('{"input": "input/old.png"}\n' + garbage + "\n")
    result = synth(clean_dir / "a.png", "-o", out)
    assert result.exit_code == 1 and "synth.jsonl: line 2 is not the JSON object of a rendering" in result.output, result.output
    assert "Traceback" not in result.output and sorted(p.name for p in out.iterdir()) == ["synth.jsonl"]


def test_an_output_subfolder_that_is_a_file_is_refused_before_any_half_pair(clean_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "input").write_text("a file where the rainy images go")
    result = synth(clean_dir / "a.png", "-o", out)
    assert result.exit_code == 2 and "input: is a file" in result.output, result.output
    assert not (out / "target").exists()


@pytest.mark.parametrize("suffix", [".mov", ".mkv"])
def test_a_video_frame_bomb_is_refused_in_one_line(tmp_path: Path, suffix: str) -> None:
    import subprocess
    import sys
    import time

    from video_clips import frame_bomb

    bomb = frame_bomb(tmp_path / f"bomb{suffix}")
    began = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "derain_cli", "synth", str(bomb), "-o", str(tmp_path / "out"), "-q"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 1 and "178,956,970 pixels" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert time.perf_counter() - began < 60
    assert not list((tmp_path / "out").rglob("*.mp4"))


def test_synth_of_a_video_ends_promptly_on_sigterm_and_leaves_no_partial_file(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    clip = make_clip(tmp_path / "long.mp4", width=320, height=240, frames=400, fps=25)
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "derain_cli", "synth", str(clip), "-o", str(out), "-q"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(out.rglob(".derain-partial-*")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # rendering under way
    assert process.poll() is None, process.communicate()
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert time.monotonic() - sent < 5 and process.returncode == -signal.SIGTERM
    assert not [p for p in out.rglob("*") if p.is_file()]
