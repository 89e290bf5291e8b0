"""Reading video files and image-sequence folders: frames, timestamps, rotation, audio, the part, errors."""

from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image
from video_clips import decode_rgb, make_clip, scene

from derain_cli.errors import DerainError, UsageError
from derain_cli.video.source import AudioPacket, FileSource, Frame, open_source


def _split(source):
    """Frames, and (stream type, seconds) of the audio packets (packets die with their container)."""
    items = list(source.items())
    packets = [(i.packet.stream.type, float(i.packet.pts * i.packet.time_base)) for i in items if isinstance(i, AudioPacket)]
    return [i for i in items if isinstance(i, Frame)], packets


def test_file_frames_timing_and_audio(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", frames=6, fps=12, audio="aac")
    with open_source(clip) as source:
        info = source.info
        frames, packets = _split(source)
    assert (info.width, info.height, info.rate, info.frames, info.rotation) == (32, 24, 12, 6, 0)
    assert [f.pts * info.time_base for f in frames] == [Fraction(k, 12) for k in range(6)]
    assert all(f.duration * info.time_base == Fraction(1, 12) for f in frames)
    np.testing.assert_array_equal(np.stack([f.rgb for f in frames]), np.stack(decode_rgb(clip)))
    assert packets and {kind for kind, _ in packets} == {"audio"}


def test_variable_frame_rate_timestamps_are_kept(tmp_path):
    pts = [0, 1000, 2000, 4500, 5000, 9000]
    clip = make_clip(tmp_path / "vfr.mp4", pts=pts, time_base=Fraction(1, 30000))
    with open_source(clip) as source:
        frames, _ = _split(source)
        assert [float(f.pts * source.info.time_base) for f in frames] == [p / 30000 for p in pts]


def test_rotation_metadata_is_read(tmp_path):
    clip = make_clip(tmp_path / "rot.mp4", rotation=90)
    with open_source(clip) as source:
        assert source.info.rotation == 90
        assert source.info.display_matrix is not None and len(source.info.display_matrix) == 9


def test_start_end_picks_a_part_and_shifts_it_to_zero(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", frames=12, fps=12, audio="aac")
    with open_source(clip, start=0.25, end=0.75) as source:
        frames, packets = _split(source)
        times = [f.pts * source.info.time_base for f in frames]
    assert times == [Fraction(k, 12) for k in range(6)]  # input frames 3..8
    np.testing.assert_array_equal(frames[0].rgb, decode_rgb(clip)[3])
    audio = [seconds for _, seconds in packets]
    assert audio and min(audio) >= 0 and max(audio) < 0.5


def test_folder_in_natural_order_at_the_given_rate(tmp_path):
    for k in (1, 2, 10):
        Image.fromarray(scene(20, 14, k)).save(tmp_path / f"frame_{k}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    with open_source(tmp_path, fps=10) as source:
        frames, packets = _split(source)
        assert (source.info.rate, source.info.frames, source.info.width, source.info.height) == (10, 3, 20, 14)
    assert not packets
    np.testing.assert_array_equal(frames[2].rgb, scene(20, 14, 10))
    assert [f.pts for f in frames] == [0, 1, 2]


def test_folder_with_a_frame_of_another_size(tmp_path):
    Image.fromarray(scene(20, 14, 0)).save(tmp_path / "a1.png")
    Image.fromarray(scene(22, 14, 1)).save(tmp_path / "a2.png")
    with open_source(tmp_path) as source, pytest.raises(DerainError, match="a2.png: frame is 22x14"):
        list(source.items())


def test_errors(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    with pytest.raises(DerainError, match="notes.mp4: cannot read it as a video"):
        open_source(text)
    with pytest.raises(DerainError, match="file not found"):
        open_source(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DerainError, match="empty: folder holds no images"):
        open_source(tmp_path / "empty")
    clip = make_clip(tmp_path / "c.mp4")
    with pytest.raises(UsageError, match="--fps applies to image-sequence folders only"):
        open_source(clip, fps=30)
    with pytest.raises(UsageError, match="must be after"):
        open_source(clip, start=2, end=1)
    with pytest.raises(DerainError, match="past the end of the video"):
        FileSource(clip, start=5)


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w") as container:
        sound = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    with pytest.raises(DerainError, match="sound.m4a: no video stream"):
        open_source(path)


@pytest.mark.parametrize("suffix", [".mov", ".mkv"])
def test_a_frame_declaring_more_pixels_than_the_image_limit_is_refused_before_decoding(tmp_path, suffix):
    import resource
    import time

    from video_clips import frame_bomb

    bomb = frame_bomb(tmp_path / f"bomb{suffix}")
    assert bomb.stat().st_size < 2000
    began, peak = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DerainError, match="178,956,970 pixels"):
        with open_source(bomb) as source:
            list(source.items())
    assert time.perf_counter() - began < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200_000  # KB: 14000 x 14000 RGB is 588 MB
    small = frame_bomb(tmp_path / f"small{suffix}", 20, 20)  # the same file declaring a size within the limit decodes
    with open_source(small) as source:
        assert source.info.width * source.info.height <= 400


def test_a_fifo_is_refused_without_waiting(tmp_path):
    import os

    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(DerainError, match="not a regular file"):
        open_source(fifo)


@pytest.mark.parametrize("start,end", [(float("inf"), None), (None, float("nan")), (1e300, None)])
def test_start_and_end_must_be_finite_and_within_the_video(tmp_path, start, end):
    clip = make_clip(tmp_path / "c.mp4")
    with pytest.raises(DerainError, match="finite|past the end"):
        open_source(clip, start=start, end=end)


@pytest.mark.parametrize("fps", [1e-300, 1e300, 0.0])
def test_folder_rate_must_be_sane(tmp_path, fps):
    Image.fromarray(scene(16, 16, 0)).save(tmp_path / "f1.png")
    with pytest.raises(UsageError, match="--fps must be between"):
        open_source(tmp_path, fps=fps)


def test_a_cut_file_is_truncated_with_start_too(tmp_path):
    clip = tmp_path / "c.mov"
    with av.open(str(clip), "w", options={"movflags": "faststart"}) as container:  # the index first: a cut keeps it
        video = container.add_stream("mjpeg", rate=10)
        video.width, video.height, video.pix_fmt = 32, 24, "yuvj420p"
        for index in range(20):
            frame = av.VideoFrame.from_ndarray(scene(32, 24, index), format="rgb24").reformat(format="yuvj420p")
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    with av.open(str(clip)) as container:
        where = [packet.pos for packet in container.demux(video=0) if packet.size][12]
    cut = tmp_path / "cut.mov"
    cut.write_bytes(clip.read_bytes()[:where])  # cut between two frames: each one left decodes
    for start in (None, 0.5):
        with pytest.raises(DerainError, match="truncated or corrupt"):
            with open_source(cut, start=start) as source:
                list(source.items())
    with open_source(clip, start=0.5) as source:
        assert len([i for i in source.items() if isinstance(i, Frame)]) == 15
