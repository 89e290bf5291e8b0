"""`derain eval` on video sets: per-sequence PSNR/SSIM and warping error, saved frames, ranges, input-only
sets and video files, on small static-camera sequences with rain streaks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_checks import assert_refused, invoke
from rainy_sequences import rainy_sequence, write_frames, write_video

from conftest import shared_file
from derain_cli.derainer import Derainer
from derain_cli.evaluate import RAINY
from derain_cli.imageio import read_rgb8
from derain_cli.metrics import score
from derain_cli.video.evaluate import TARGET, evaluate_video
from derain_cli.video.flow import warping_error
from derain_cli.video.sets import find_video_set
from derain_cli.weights.registry import DEFAULT_MODEL, VIDEO_DEFAULT_MODEL


@pytest.fixture
def video_set(tmp_path: Path) -> tuple[Path, dict[str, tuple[list[np.ndarray], list[np.ndarray]]]]:
    """input/SEQ/N.png + target/SEQ/N.png for two sequences of 5 and 4 frames."""
    root = tmp_path / "set"
    sequences = {"s1": rainy_sequence(5, seed=1), "s2": rainy_sequence(4, seed=2)}
    for name, (rainy, clean) in sequences.items():
        write_frames(root / "input" / name, rainy)
        write_frames(root / "target" / name, clean)
    return root, sequences


def _eval(*args: object):
    return invoke("eval", "--device", "cpu", "-q", *args)


def test_per_sequence_numbers_and_saved_frames(tmp_path: Path, video_set, tiny_weights: Path) -> None:
    root, sequences = video_set
    derainer = Derainer("sapnet", tiny_weights, device="cpu")
    report = evaluate_video(find_video_set(root), {"tiny": derainer}, temporal=0, save_outputs=tmp_path / "out")
    assert report.labels == [RAINY, "tiny", TARGET] and report.flow_on == "target" and not report.failures
    for result in report.sequences:
        rainy, clean = sequences[result.name]
        assert result.frames == [str(i + 1) for i in range(len(rainy))]
        rows = result.rows
        assert rows[RAINY].scores == [score(r, c) for r, c in zip(rainy, clean)]
        assert np.isclose(rows[RAINY].warping.value, warping_error(rainy, guides=clean))
        assert rows[TARGET].warping.value < 1e-6 < 1e-3 < rows[RAINY].warping.value  # still scene, fresh streaks
        saved = sorted((tmp_path / "out" / "tiny" / result.name).iterdir())
        assert [p.name for p in saved] == [f"{i + 1}.png" for i in range(len(rainy))]
        outputs = [read_rgb8(p) for p in saved]
        assert all(np.array_equal(o, derainer(r)) for o, r in zip(outputs, rainy))  # lossless, frame by frame
        assert rows["tiny"].scores == [score(o, c) for o, c in zip(outputs, clean)]
        assert np.isclose(rows["tiny"].warping.value, warping_error(outputs, guides=clean))
    everything = report.summary(RAINY)
    assert everything.frames == 9
    assert np.isclose(everything.psnr, np.mean([s.psnr for r in report.sequences for s in r.rows[RAINY].scores]))


def test_cli_json_frames_range_and_save_outputs(tmp_path: Path, video_set, tiny_weights: Path) -> None:
    root, sequences = video_set
    out = tmp_path / "out"
    result = _eval("--data", root, "-m", "sapnet", "-w", tiny_weights, "--frames", "2:4", "--json", "--save-outputs", out)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["video"], data["flow_on"], data["frames"], data["n"]) == (True, "target", "2:4", 6)
    s1 = data["sequences"]["s1"]
    assert (s1["frames"], s1["first"], s1["last"]) == (3, "2", "4")
    rainy, clean = sequences["s1"]
    expected = [score(r, c).psnr for r, c in zip(rainy[1:4], clean[1:4])]
    assert s1["rows"][RAINY]["per_frame"]["psnr"] == [round(x, 4) for x in expected]
    assert set(s1["rows"][TARGET]) == {"warping_error_x1e3"}
    assert data["rows"][RAINY]["warping_error_x1e3"] > data["rows"][TARGET]["warping_error_x1e3"]
    assert sorted(p.name for p in (out / "sapnet" / "s2").iterdir()) == ["2.png", "3.png", "4.png"]


def test_without_a_model_video_sets_run_the_video_default(video_set, monkeypatch) -> None:
    """The default is an ensemble with S2VD, whose third-party checkpoint comes from ../shared here (no network)."""
    monkeypatch.setenv("DERAIN_WEIGHTS_DIR", str(shared_file("weights/s2vd_nturain.pt").parent))
    root, _ = video_set
    result = _eval("--data", root, "--frames", "1:2", "--temporal", "0", "--json")
    assert result.exit_code == 0, result.output
    assert VIDEO_DEFAULT_MODEL in json.loads(result.stdout)["rows"] and DEFAULT_MODEL not in result.stdout


def test_input_only_sets_report_the_warping_error_alone(tmp_path: Path, tiny_weights: Path) -> None:
    rainy, _ = rainy_sequence(4)
    write_frames(tmp_path / "street", rainy)
    result = _eval("--data", tmp_path / "street", "--video", "-m", "sapnet", "-w", tiny_weights, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["flow_on"] == "input" and list(data["rows"]) == [RAINY, "sapnet"]
    assert set(data["rows"][RAINY]) == {"warping_error_x1e3"}
    assert set(data["rows"]["sapnet"]) == {"warping_error_x1e3", "seconds_per_frame"}
    assert np.isclose(data["rows"][RAINY]["warping_error_x1e3"], warping_error(rainy) * 1e3, atol=1e-4)
    table = invoke("eval", "--device", "cpu", "--data", tmp_path / "street", "--video", "-m", "sapnet", "-w", tiny_weights)
    assert "warping error x1e3 with the flow on the input" in table.stdout and "sapnet" in table.stdout  # the result: stdout
    without = _eval("--data", tmp_path / "street", "-m", "sapnet", "-w", tiny_weights)
    assert_refused(without, 1, "no paired layout found")


def test_video_files_score_as_their_frames(tmp_path: Path, tiny_weights: Path) -> None:
    rainy, clean = rainy_sequence(4, seed=3)
    write_video(tmp_path / "files" / "input" / "clip.mkv", rainy)
    write_video(tmp_path / "files" / "target" / "clip.mkv", clean)
    result = _eval("--data", tmp_path / "files", "-m", "sapnet", "-w", tiny_weights, "--json", "--save-outputs", tmp_path / "out")
    assert result.exit_code == 0, result.output
    clip = json.loads(result.stdout)["sequences"]["clip"]
    assert (clip["frames"], clip["first"], clip["last"]) == (4, "00001", "00004")
    expected = np.mean([score(r, c).psnr for r, c in zip(rainy, clean)])
    assert np.isclose(clip["rows"][RAINY]["psnr"], expected, atol=1e-4)
    assert sorted(p.name for p in (tmp_path / "out" / "sapnet" / "clip").iterdir()) == [f"{i:05d}.png" for i in range(1, 5)]


def test_refusals(tmp_path: Path, video_set, tiny_weights: Path) -> None:
    root, _ = video_set
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert_refused(_eval("--data", root, "-m", "sapnet", "-w", tiny_weights, "--save-outputs", blocker / "out"), 1, "cannot write there")
    assert_refused(_eval("--data", root, "-m", "sapnet", "-w", tiny_weights, "--report", blocker / "r.html"), 1, "cannot write there")
    assert_refused(_eval("--data", root, "--tta"), 2, "--tta and --segment apply to image sets")
    assert_refused(_eval("--data", root, "--limit", "2", "--frames", "1:2"), 2, "not both")
    assert_refused(_eval("--data", root, "--frames", "2-3"), 2, "--frames '2-3'")
    pairs = tmp_path / "pairs"
    write_frames(pairs / "input", rainy_sequence(1)[0])
    write_frames(pairs / "target", rainy_sequence(1)[1])
    assert_refused(_eval("--data", pairs, "--frames", "1:2"), 2, "pass --video if it is one")
