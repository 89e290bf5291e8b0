"""Writing video: pixel formats for odd sizes, timing, colour tags, rotation, audio copy or re-encode."""

from fractions import Fraction

import av
import numpy as np
import pytest
from video_clips import audio_packets, decode_rgb, make_clip, scene

from derain_cli.errors import DerainError, UsageError
from derain_cli.video.sink import EncodeSettings, VideoSink, pixel_format
from derain_cli.video.source import Colour, Frame, VideoInfo, open_source


def _info(width=32, height=24, **changes):
    return VideoInfo(width, height, Fraction(1, 1200), Fraction(12), None, **changes)


def test_pixel_format():
    assert pixel_format("libx264", 32, 24) == "yuv420p"
    assert pixel_format("libx264", 33, 24) == "yuv444p"  # 4:2:0 cannot hold an odd width
    assert pixel_format("ffv1", 31, 25) == "yuv444p"
    with pytest.raises(DerainError, match="mpeg4 encoder cannot encode the odd size 33x25"):
        pixel_format("mpeg4", 33, 25)


def test_settings_are_checked():
    EncodeSettings("libx265", 28).check()
    with pytest.raises(UsageError, match="unknown video encoder 'nope'"):
        EncodeSettings("nope").check()
    with pytest.raises(UsageError, match="'aac' encodes audio, not video"):
        EncodeSettings("aac").check()
    with pytest.raises(UsageError, match="--crf must be between 0 and 63"):
        EncodeSettings(crf=99).check()


@pytest.mark.parametrize("size", [(32, 24), (33, 25)])
def test_frames_keep_size_timing_and_colour(tmp_path, size):
    width, height = size
    path = tmp_path / "out.mp4"
    sink = VideoSink(path, _info(width, height, colour=Colour(1, 1, 1, 1)), [], EncodeSettings(crf=10), path)
    pts = [0, 100, 200, 450, 500]  # variable frame rate, in 1/1200 s
    for index, stamp in enumerate(pts):
        sink.write(scene(width, height, index), stamp, 50)
    sink.finish()
    sink.close()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert [float(f.time) for f in frames] == [p / 1200 for p in pts]
        assert (frames[0].width, frames[0].height, frames[0].colorspace, frames[0].color_range) == (width, height, 1, 1)
        assert stream.codec_context.pix_fmt == ("yuv420p" if width % 2 == 0 else "yuv444p")
    decoded = decode_rgb(path)
    error = np.mean([np.abs(d.astype(int) - scene(width, height, k)).mean() for k, d in enumerate(decoded)])
    assert error < (4 if width % 2 == 0 else 1.5)  # 4:2:0 halves the colour resolution; 4:4:4 does not


def test_display_matrix_is_written(tmp_path):
    rotated = make_clip(tmp_path / "rot.mp4", rotation=-90)
    with open_source(rotated) as source:
        info = source.info
    path = tmp_path / "out.mp4"
    sink = VideoSink(path, info, [], EncodeSettings(), path)
    sink.write(scene(32, 24, 0), 0, 1)
    sink.finish()
    sink.close()
    with open_source(path) as source:
        assert (source.info.rotation, source.info.display_matrix) == (-90, info.display_matrix)


@pytest.mark.parametrize(
    ("clip_name", "audio", "written"),
    [("in.mkv", "aac", "audio aac copied"), ("in.mov", "pcm_mulaw", "re-encoded as aac")],  # mp4 cannot hold mu-law
)
def test_audio_is_copied_or_re_encoded(tmp_path, clip_name, audio, written):
    clip = make_clip(tmp_path / clip_name, audio=audio)
    path = tmp_path / "out.mp4"
    with open_source(clip) as source:
        sink = VideoSink(path, source.info, source.audio, EncodeSettings(), path)
        for item in source.items():
            if isinstance(item, Frame):
                sink.write(item.rgb, item.pts, item.duration)
            else:
                sink.write_audio(item.index, item.packet)
        sink.finish()
        sink.close()
    assert written in sink.description
    with av.open(str(path)) as container:
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
        samples = sum(f.samples for f in container.decode(audio=0))
    assert samples >= 16000 * 6 / 12 - 1024
    if audio == "aac":
        assert audio_packets(path) == audio_packets(clip)


def test_unwritable_outputs(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with pytest.raises(DerainError, match="cannot write video"):
        VideoSink(blocker / "out.mp4", _info(), [], EncodeSettings(), blocker / "out.mp4")
    with pytest.raises(DerainError, match="unknown video format '.xyz'"):
        VideoSink(tmp_path / "out.xyz", _info(), [], EncodeSettings(), tmp_path / "out.xyz")
    with pytest.raises(DerainError, match="webm format cannot hold libx264"):
        VideoSink(tmp_path / "out.webm", _info(), [], EncodeSettings("libx264"), tmp_path / "out.webm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_aac_at_44k_into_webm_is_re_encoded_at_a_rate_opus_takes(tmp_path):
    from video_clips import make_clip

    from derain_cli.video.source import AudioPacket, open_source

    clip = make_clip(tmp_path / "in.mp4", frames=6, audio="aac", audio_rate=44100)
    out = tmp_path / "out.webm"
    with open_source(clip) as source:
        sink = VideoSink(out, source.info, source.audio, EncodeSettings(), label=out)
        for item in source.items():
            if isinstance(item, AudioPacket):
                sink.write_audio(item.index, item.packet)
            else:
                sink.write(item.rgb, item.pts, item.duration)
        sink.finish()
        sink.close()
    assert "re-encoded" in sink.description
    with av.open(str(out)) as container:
        (sound,) = container.streams.audio
        assert sound.codec_context.name == "opus" and sound.sample_rate == 48000
        assert sum(frame.samples for frame in container.decode(sound)) > 0.4 * 48000  # the half second of tone


def test_png_video_keeps_an_odd_size(tmp_path):
    info = VideoInfo(33, 25, Fraction(1, 12), Fraction(12), 2)
    out = tmp_path / "odd.mov"
    sink = VideoSink(out, info, [], EncodeSettings("png"), label=out)
    for index in range(2):
        sink.write(scene(33, 25, index), index, 1)
    sink.finish()
    sink.close()
    frames = decode_rgb(out)
    assert len(frames) == 2 and frames[0].shape == (25, 33, 3)
    assert np.array_equal(frames[1], scene(33, 25, 1))  # PNG is lossless


def test_a_container_refusing_a_codec_pair_names_the_pair(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=2, audio="aac")
    out = tmp_path / "out.mov"
    with open_source(clip) as source, pytest.raises(DerainError) as caught:
        VideoSink(out, source.info, source.audio, EncodeSettings("libvpx-vp9"), label=out)
    assert "the mov format refuses libvpx-vp9 video with aac audio" in str(caught.value)
