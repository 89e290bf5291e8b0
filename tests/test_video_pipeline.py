"""derain_video end to end on small real clips: frames derained, timing, size, rotation, audio, parts, failures."""

from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image
from video_clips import audio_packets, decode_rgb, make_clip, one_torch_thread, scene, tiny_weights  # noqa: F401  (fixtures)

from derain_cli import Derainer
from derain_cli.errors import DerainError
from derain_cli.video.processors import make_processor, run_processor
from derain_cli.video import SideBySide, VideoOptions, VideoOutput, VideoProgress, derain_video
from derain_cli.video.flow import warping_error
from derain_cli.video.source import open_source


@pytest.fixture(scope="module")
def derainer(tiny_weights):  # noqa: F811
    return Derainer("sapnet", tiny_weights, device="cpu")


def _mean_error(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(x.astype(np.int16) - y).mean() for x, y in zip(a, b, strict=True)]))


def assert_derained(output, inputs, derainer):
    """Output frames are much closer to the model's per-frame output than the input frames are."""
    reference = [derainer(frame) for frame in inputs]
    to_model, input_to_model = _mean_error(decode_rgb(output), reference), _mean_error(inputs, reference)
    assert to_model < 0.25 * input_to_model, (to_model, input_to_model)


def test_frames_derained_audio_copied_timing_kept(tmp_path, derainer):
    clip = make_clip(tmp_path / "in.mp4", frames=6, fps=12, audio="aac")
    out = tmp_path / "out.mp4"

    class Count(VideoProgress):
        frames = 0

        def frame(self):
            self.frames += 1

    count = Count()
    report = derain_video(clip, [VideoOutput(out)], derainer, VideoOptions(batch_size=4, temporal=0), count)
    assert report.frames == count.frames == 6
    assert "libx264 yuv420p, audio aac copied" == report.written
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.average_rate, video.codec_context.width, video.codec_context.height) == (12, 32, 24)
    assert audio_packets(out) == audio_packets(clip)
    assert_derained(out, decode_rgb(clip), derainer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]


def test_the_temporal_stage_keeps_audio_timing_and_every_frame(tmp_path, derainer):
    """The temporal stage holds frames back: audio packets wait with them and come out in order."""
    clip = make_clip(tmp_path / "in.mp4", frames=9, fps=12, audio="aac")
    out = tmp_path / "out.mp4"
    report = derain_video(clip, [VideoOutput(out)], derainer, VideoOptions())  # the default: the stage on
    assert report.frames == 9
    assert audio_packets(out) == audio_packets(clip)
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        assert [f.pts for f in a.decode(video=0)] == [f.pts for f in b.decode(video=0)]
    expected = run_processor(make_processor(derainer), decode_rgb(clip))
    frame_by_frame = [derainer(frame) for frame in decode_rgb(clip)]
    assert _mean_error(decode_rgb(out), expected) < 0.5 * _mean_error(decode_rgb(out), frame_by_frame)


def test_odd_size_is_kept_exactly(tmp_path, derainer):
    clip = make_clip(tmp_path / "in.mkv", width=33, height=25, frames=3, codec="ffv1", pix_fmt="yuv444p")
    out = tmp_path / "out.mkv"
    report = derain_video(clip, [VideoOutput(out)], derainer, VideoOptions(temporal=0))
    assert report.written == "libx264 yuv444p"
    frames = decode_rgb(out)
    assert len(frames) == 3 and frames[0].shape == (25, 33, 3)
    assert_derained(out, decode_rgb(clip), derainer)


def test_variable_frame_rate_timestamps_are_kept(tmp_path, derainer):
    pts = [0, 1000, 2000, 4500, 5000]
    clip = make_clip(tmp_path / "vfr.mp4", frames=5, pts=pts, time_base=Fraction(1, 30000))
    out = tmp_path / "out.mp4"
    derain_video(clip, [VideoOutput(out)], derainer, VideoOptions(temporal=0))
    with av.open(str(out)) as container:
        assert [float(f.time) for f in container.decode(video=0)] == [p / 30000 for p in pts]


def test_rotation_kept_and_side_by_side_upright(tmp_path, derainer):
    clip = make_clip(tmp_path / "rot.mp4", frames=2, rotation=90, audio="aac")
    plain, demo = tmp_path / "plain.mp4", tmp_path / "demo.mp4"
    derain_video(clip, [VideoOutput(plain), VideoOutput(demo, SideBySide())], derainer, VideoOptions(temporal=0))
    assert audio_packets(plain) == audio_packets(demo) == audio_packets(clip)  # every output gets the sound
    with open_source(plain) as source:
        assert (source.info.width, source.info.height, source.info.rotation) == (32, 24, 90)
    with open_source(demo) as source:
        assert (source.info.width, source.info.height, source.info.rotation) == (48, 32, 0)
    inputs, derained, shown = decode_rgb(clip), decode_rgb(plain), decode_rgb(demo)
    assert _mean_error([f[:, :24] for f in shown], [np.rot90(f) for f in inputs]) < 4
    assert _mean_error([f[:, 24:] for f in shown], [np.rot90(f) for f in derained]) < 4


def test_start_end_process_a_part_with_its_audio(tmp_path, derainer):
    clip = make_clip(tmp_path / "in.mp4", frames=12, fps=12, audio="aac")
    out = tmp_path / "part.mp4"
    report = derain_video(clip, [VideoOutput(out)], derainer, VideoOptions(start=0.25, end=0.75, temporal=0))
    assert report.frames == 6
    assert_derained(out, decode_rgb(clip)[3:9], derainer)
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        seconds = sum(f.samples for f in container.decode(audio)) / audio.rate
    assert 0.3 < seconds < 0.7


def test_image_folder_becomes_a_video(tmp_path, derainer):
    frames = tmp_path / "frames"
    frames.mkdir()
    for k in range(1, 5):
        Image.fromarray(scene(32, 24, k)).save(frames / f"{k:03d}.png")
    out = tmp_path / "out.mp4"
    derain_video(frames, [VideoOutput(out)], derainer, VideoOptions(fps=8, temporal=0))
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == 8
    assert_derained(out, [scene(32, 24, k) for k in range(1, 5)], derainer)


def test_measure_gives_the_warping_error_of_input_and_output(tmp_path, derainer):
    frames = tmp_path / "frames"
    frames.mkdir()
    inputs = [scene(48, 32, k) for k in range(5)]
    for k, frame in enumerate(inputs):
        Image.fromarray(frame).save(frames / f"{k}.png")
    report = derain_video(frames, [VideoOutput(tmp_path / "out.mp4")], derainer, VideoOptions(measure=True, temporal=0))
    outputs = [derainer(frame) for frame in inputs]  # what the run derained, before encoding
    assert report.warping.input.pairs == report.warping.output.pairs == 4
    assert np.isclose(report.warping.input.value, warping_error(inputs))
    assert np.isclose(report.warping.output.value, warping_error(outputs, guides=inputs))
    assert derain_video(frames, [VideoOutput(tmp_path / "again.mp4")], derainer).warping is None


def test_a_failure_midway_leaves_nothing(tmp_path, derainer):
    frames = tmp_path / "frames"
    frames.mkdir()
    Image.fromarray(scene(32, 24, 0)).save(frames / "1.png")
    Image.fromarray(scene(30, 24, 1)).save(frames / "2.png")
    with pytest.raises(DerainError, match="2.png: frame is 30x24"):
        derain_video(frames, [VideoOutput(tmp_path / "out.mp4")], derainer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def test_input_and_existing_outputs_are_protected(tmp_path, derainer):
    clip = make_clip(tmp_path / "in.mp4", frames=1)
    before = clip.read_bytes()
    with pytest.raises(DerainError, match="is an input"):
        derain_video(clip, [VideoOutput(clip)], derainer, VideoOptions(overwrite=True))
    existing = tmp_path / "old.mp4"
    existing.write_bytes(b"keep me")
    with pytest.raises(DerainError, match="already exists; pass --overwrite"):
        derain_video(clip, [VideoOutput(existing)], derainer)
    assert clip.read_bytes() == before and existing.read_bytes() == b"keep me"
    derain_video(clip, [VideoOutput(existing)], derainer, VideoOptions(overwrite=True))
    assert len(decode_rgb(existing)) == 1
