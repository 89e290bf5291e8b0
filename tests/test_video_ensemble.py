"""Video ensembles (`a+b`): spec parsing, frames averaged in order whatever each model's latency, the
default video path as two separate runs averaged, and the one-line refusals."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner
from video_clips import decode_rgb, make_clip, one_torch_thread, tiny_weights  # noqa: F401  (fixtures)

from conftest import shared_file
from derain_cli.cli import app
from derain_cli.derainer import Derainer
from derain_cli.errors import UsageError
from derain_cli.video.ensemble import Averaged, VideoEnsemble, load_video_derainer, members, video_model
from derain_cli.video.processors import make_processor, run_processor
from derain_cli.weights.registry import VIDEO_DEFAULT_MODEL

runner = CliRunner()


def test_members_of_a_spec():
    assert members("s2vd+sapnet-realrain") == ["s2vd", "sapnet-realrain"]
    assert members("sapnet-realrain") == []
    for bad in ("s2vd+", "+s2vd", "a++b"):
        with pytest.raises(UsageError, match="two or more models"):
            members(bad)


def test_a_checkpoint_without_a_model_runs_alone_and_other_ensembles_refuse_it(tiny_weights):  # noqa: F811
    assert video_model(VIDEO_DEFAULT_MODEL) == VIDEO_DEFAULT_MODEL
    assert "+" not in video_model(VIDEO_DEFAULT_MODEL, tiny_weights)
    with pytest.raises(UsageError, match="--weights cannot go with the ensemble"):
        video_model("prenet-rain100h+sapnet-realrain", tiny_weights)


def test_frames_are_averaged_in_order_whatever_the_latencies(tiny_weights):  # noqa: F811
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(7)]
    model = Derainer("sapnet", tiny_weights, device="cpu", precision="fp32")
    # the model frame by frame (holds 1 frame) and the same model under the temporal stage (holds 1 + 2)
    quick, slow = make_processor(model, temporal=0), make_processor(model, temporal=2)
    alone = [run_processor(make_processor(model, temporal=0), frames), run_processor(make_processor(model, temporal=2), frames)]
    averaged = Averaged([quick, slow])
    assert averaged.window == 3
    out = []
    for pushed, frame in enumerate(frames, start=1):
        out += averaged.push(frame)
        assert pushed - len(out) <= averaged.window  # memory bounded by the slowest model's window
    out += averaged.finish()
    expected = [((a.astype(int) + b + 1) // 2).astype(np.uint8) for a, b in zip(*alone)]
    assert len(out) == len(frames)
    assert all(np.array_equal(o, e) for o, e in zip(out, expected))


def test_the_default_video_path_is_s2vd_and_sapnet_each_under_the_stage_averaged(tmp_path, monkeypatch):
    monkeypatch.setenv("DERAIN_WEIGHTS_DIR", str(shared_file("weights/s2vd_nturain.pt").parent))
    clip = make_clip(tmp_path / "rain.mp4", width=64, height=48, frames=8, fps=8)
    frames = decode_rgb(clip)
    ensemble = load_video_derainer(VIDEO_DEFAULT_MODEL, device="cpu", precision="fp32")
    assert isinstance(ensemble, VideoEnsemble) and [m.video for m in ensemble.members] == [True, False]
    out = run_processor(make_processor(ensemble), frames)
    each = [run_processor(make_processor(member), frames) for member in ensemble.members]
    assert len(out) == len(frames)
    for o, a, b in zip(out, *each):
        assert np.array_equal(o, ((a.astype(int) + b + 1) // 2).astype(np.uint8))
    assert not np.array_equal(out[3], each[1][3])  # S2VD's share changes the frames


def test_photos_and_checkpoints_refuse_an_ensemble(tmp_path, tiny_weights):  # noqa: F811
    photo = tmp_path / "p.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photo)
    result = runner.invoke(app, ["image", str(photo), "-o", str(tmp_path / "o.png"), "-m", "s2vd+sapnet-realrain"])
    assert result.exit_code == 2 and result.output.strip().splitlines() == ["error: s2vd+sapnet-realrain is a video ensemble: use derain video"]
    clip = make_clip(tmp_path / "c.mp4", frames=2)
    result = runner.invoke(app, ["video", str(clip), "-o", str(tmp_path / "o.mp4"), "-m", "prenet-rain100h+sapnet-realrain", "-w", str(tiny_weights), "-q"])
    assert result.exit_code == 2, result.output
    assert "--weights cannot go with the ensemble prenet-rain100h+sapnet-realrain" in result.output
    assert not (tmp_path / "o.mp4").exists()


def test_without_s2vd_s_checkpoint_the_default_says_how_to_run_without_it(tmp_path, hf_home, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # nothing cached, no download allowed: S2VD cannot load
    clip = make_clip(tmp_path / "c.mp4", frames=2)
    result = runner.invoke(app, ["video", str(clip), "-o", str(tmp_path / "o.mp4"), "-d", "cpu", "-q"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "s2vd-nturain" in lines[0]
    assert lines[0].endswith(f"(the ensemble {VIDEO_DEFAULT_MODEL} needs every model; --model sapnet-realrain runs one alone)")
    assert not (tmp_path / "o.mp4").exists()
