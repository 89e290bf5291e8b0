"""`derain video` from the command line: the issue's acceptance clip, bad inputs and outputs, Ctrl-C."""

import re
import signal
import subprocess
import sys
import time

import av
import pytest
from typer.testing import CliRunner
from video_clips import decode_rgb, make_clip, one_torch_thread, tiny_weights  # noqa: F401  (fixtures)

from conftest import shared_file
from derain_cli import Derainer
from derain_cli.cli import app
from derain_cli.video.flow import warping_error

runner = CliRunner()


def _derain(*args):
    return runner.invoke(app, ["video", "--device", "cpu", "-q", *map(str, args)])


@pytest.mark.slow
def test_acceptance_clip(tmp_path, tiny_weights):  # noqa: F811
    clip = make_clip(tmp_path / "rain.mp4", width=224, height=160, frames=24, fps=12, audio="aac")
    out = tmp_path / "derained.mp4"
    result = _derain(clip, "-o", out, "--weights", tiny_weights, "--temporal", "0")  # compared frame by frame below
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.average_rate, video.codec_context.width, video.codec_context.height) == (12, 224, 160)
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
    inputs, outputs = decode_rgb(clip), decode_rgb(out)
    assert len(outputs) == 24
    derainer = Derainer("sapnet", tiny_weights, device="cpu")
    to_model = to_input = 0.0
    for frame, output in list(zip(inputs, outputs))[::3]:  # every third frame: the reference costs a forward each
        reference = derainer(frame).astype(int)
        to_model += abs(output - reference).mean()
        to_input += abs(frame - reference).mean()
    assert to_model < 0.25 * to_input, (to_model, to_input)


def test_a_text_file_named_mp4(tmp_path, tiny_weights):  # noqa: F811
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video at all\n")
    result = _derain(fake, "-o", tmp_path / "out.mp4", "--weights", tiny_weights)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"error: {fake}: cannot read it as a video (Invalid data found when processing input)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]


def test_unwritable_output_and_bad_options(tmp_path, tiny_weights):  # noqa: F811
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    result = _derain(clip, "-o", blocker / "out.mp4", "--weights", tiny_weights)
    assert result.exit_code == 1 and "cannot create the output folder" in result.output
    result = _derain(clip, "-o", tmp_path / "out.webm", "--codec", "libx264", "--weights", tiny_weights)
    assert result.exit_code == 1 and "webm format cannot hold libx264" in result.output
    result = _derain(clip, "-o", tmp_path / "out.mp4", "--codec", "nope", "--weights", tiny_weights)
    assert result.exit_code == 2 and "unknown video encoder 'nope'" in result.output
    result = _derain(clip, "-o", tmp_path / "out.mp4", "--start", "1", "--end", "0.5", "--weights", tiny_weights)
    assert result.exit_code == 2 and "--end (0.5 s) must be after --start (1.0 s)" in result.output
    from derain_cli.video.temporal import MAX_RADIUS  # the option's bound is the stage's

    result = _derain(clip, "-o", tmp_path / "out.mp4", "--temporal", str(MAX_RADIUS + 1), "--weights", tiny_weights)
    assert result.exit_code == 2 and f"'--temporal': Input should be less than or equal to {MAX_RADIUS}" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "in.mp4"]


def test_an_output_name_without_suffix_is_refused_by_its_own_name(tmp_path, tiny_weights):  # noqa: F811
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    result = _derain(clip, "-o", tmp_path / "outname", "--weights", tiny_weights)
    assert result.exit_code == 2
    assert f"{tmp_path / 'outname'}: no suffix to tell the video format; use .mp4" in result.output
    assert "partial" not in result.output and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_side_by_side_summary(tmp_path, tiny_weights):  # noqa: F811
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    result = runner.invoke(app, ["video", clip.as_posix(), "-o", str(tmp_path / "demo.mkv"), "--side-by-side",
                                 "--device", "cpu", "--weights", str(tiny_weights)])
    assert result.exit_code == 0, result.output
    assert "Derained 2 frame(s) of 32x24 at 12 fps" in result.output
    assert decode_rgb(tmp_path / "demo.mkv")[0].shape == (24, 64, 3)


@pytest.mark.slow  # a subprocess: ~5-20 s to import torch and load the model
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_term_and_hup_stop_cleanly(tmp_path, tiny_weights, signum):  # noqa: F811
    clip = make_clip(tmp_path / "in.mp4", width=64, height=48, frames=1200)  # far more than 0.2 s of work
    command = [sys.executable, "-m", "derain_cli", "video", str(clip), "-o", str(tmp_path / "out.mp4"),
               "--device", "cpu", "--weights", str(tiny_weights), "-q"]
    # As in a terminal: a test run started in the background (`cmd &` without job control) inherits an
    # ignored SIGINT, one under nohup an ignored SIGHUP, and Python keeps ignoring them; give the child
    # the signal's default back.
    restore = lambda: signal.signal(signum, signal.SIG_DFL)  # noqa: E731
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, preexec_fn=restore)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".derain-partial-*.mp4")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)  # the partial file exists once the output is open, before the first frame
    time.sleep(0.2)  # into the run: threads decoding, deraining, encoding
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    if signum == signal.SIGINT:
        assert process.returncode == 130, stderr
        assert "error: interrupted" in stderr
    else:  # the partial file is removed, then the process dies of the signal as usual
        assert process.returncode == -signum, stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_several_videos_into_a_folder_and_skip_existing(tmp_path, tiny_weights):  # noqa: F811
    clips = [make_clip(tmp_path / f"c{k}.mp4", frames=2) for k in range(2)]
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video\n")
    result = _derain(*clips, fake, "-o", tmp_path / "out", "--weights", tiny_weights)
    assert result.exit_code == 1
    assert f"error: {fake}: cannot read it as a video" in result.output and "1 of 3 input(s) failed" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c0.mp4", "c1.mp4"]
    assert len(decode_rgb(tmp_path / "out" / "c1.mp4")) == 2
    again = runner.invoke(app, ["video", *map(str, clips), "-o", str(tmp_path / "out"), "--device", "cpu",
                                "--weights", str(tiny_weights), "--skip-existing"])
    assert again.exit_code == 0 and "Skipped 2 video(s)" in again.output and "Derained" not in again.output
    single = runner.invoke(app, ["video", str(clips[0]), "-o", str(tmp_path / "out" / "c0.mp4"), "--device", "cpu",
                                 "--weights", str(tiny_weights), "--skip-existing"])
    assert single.exit_code == 0 and "Skipped" in single.output


def test_report_prints_the_warping_error_line(tmp_path, tiny_weights):  # noqa: F811
    clip = make_clip(tmp_path / "in.mp4", frames=4)
    out = tmp_path / "out.mp4"
    result = runner.invoke(app, ["video", "--device", "cpu", "-q", str(clip), "-o", str(out), "--weights", str(tiny_weights), "--report", "--temporal", "0"])
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    match = re.fullmatch(rf"{re.escape(str(clip))}: warping error x1e3 \(flow on the input\): input ([\d.]+), derained ([\d.]+) \([+-]\d+ %\)", line)
    assert match, line
    assert float(match[1]) == pytest.approx(warping_error(decode_rgb(clip)) * 1e3, abs=0.006)
    refused = runner.invoke(app, ["video", str(clip), "-o", str(tmp_path / "o2.mp4"), "--report", "--ray"])
    assert refused.exit_code == 2 and "--report is not available with --ray" in refused.output


def test_s2vd_end_to_end(tmp_path):
    """The video model through `derain video`: clips of the authors' schedule, every frame back, in order."""
    weights = shared_file("weights/s2vd_nturain.pt")
    clip = make_clip(tmp_path / "rain.mp4", width=48, height=32, frames=30, fps=10)
    out = tmp_path / "derained.mkv"  # ffv1: no compression error beyond chroma subsampling
    result = _derain(clip, "-o", out, "--codec", "ffv1", "--model", "s2vd", "--weights", weights, "--precision", "fp32", "--temporal", "0")
    assert result.exit_code == 0, result.output
    inputs, outputs = decode_rgb(clip), decode_rgb(out)
    assert len(outputs) == 30
    derainer = Derainer("s2vd", weights, device="cpu", precision="fp32")
    expected = derainer.derain_clip(inputs[:26])[:24] + derainer.derain_clip(inputs[22:])[2:]  # the authors' two clips
    errors = [abs(o.astype(int) - e).mean() for o, e in zip(outputs, expected)]
    to_input = [abs(o.astype(int) - i).mean() for o, i in zip(outputs, inputs)]
    assert max(errors) < 0.5 * min(to_input), (errors, to_input)  # measured: 1.6 (chroma subsampling) and 4.2


@pytest.mark.parametrize("args,code,message", [
    (["--start", "inf"], 2, "--start must be a finite number"),
    (["--start", "1e300"], 1, "past the end of the video"),
    (["--end", "inf"], 2, "--end must be a finite number"),
])
def test_out_of_range_times_are_one_line(tmp_path, tiny_weights, args, code, message):  # noqa: F811
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    result = _derain(clip, "-o", tmp_path / "out.mp4", "--weights", tiny_weights, *args)
    assert result.exit_code == code and message in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "out.mp4").exists()


def test_a_tiny_folder_rate_and_a_fifo_are_refused_at_once(tmp_path, tiny_weights):  # noqa: F811
    import os

    from PIL import Image

    frames = tmp_path / "frames"
    frames.mkdir()
    Image.new("RGB", (16, 16)).save(frames / "1.png")
    result = _derain(frames, "-o", tmp_path / "out.mp4", "--fps", "1e-300", "--weights", tiny_weights)
    assert result.exit_code == 2 and "--fps must be between" in result.output, result.output
    os.mkfifo(tmp_path / "pipe.mp4")
    began = time.perf_counter()
    result = _derain(tmp_path / "pipe.mp4", "-o", tmp_path / "out.mp4", "--weights", tiny_weights)
    assert result.exit_code == 1 and "not a regular file" in result.output, result.output
    assert time.perf_counter() - began < 30


def test_a_long_cpu_run_with_a_heavy_model_hints_at_the_lite_model(tmp_path, tiny_weights, monkeypatch):  # noqa: F811
    from fractions import Fraction

    from derain_cli.cli import video as video_cli
    from derain_cli.video.source import VideoInfo

    def info(frames):
        return VideoInfo(1280, 720, Fraction(1, 25), Fraction(25), frames)

    heavy = Derainer("sapnet", tiny_weights, device="cpu")
    line = video_cli.lite_hint(heavy, info(1500))  # a minute of 720p: 1382 megapixels
    assert line is not None and "--model lite" in line and "1500 frames of 1280x720" in line and "\n" not in line
    assert video_cli.lite_hint(heavy, info(10)) is None and video_cli.lite_hint(heavy, info(None)) is None
    assert video_cli.lite_hint(Derainer("lite", device="cpu"), info(1500)) is None  # the bundled light model itself
    # through the CLI: the line on stderr before the frames (the clip is short, so the bar is lowered), none with -q
    monkeypatch.setattr(video_cli, "HINT_MEGAPIXELS", 1e-4)
    clip = make_clip(tmp_path / "in.mp4", frames=4)
    args = ["video", "--device", "cpu", str(clip), "--weights", str(tiny_weights), "--temporal", "0", "-o"]
    shown = runner.invoke(app, [*args, str(tmp_path / "a.mp4")])
    assert shown.exit_code == 0, shown.output
    assert "--model lite runs about 12x faster than the video default" in shown.stderr and "--model lite" not in shown.stdout
    quiet = runner.invoke(app, [*args, str(tmp_path / "b.mp4"), "-q"])
    assert quiet.exit_code == 0 and "hint" not in quiet.output
