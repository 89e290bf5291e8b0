"""video.sets: which folders are video sets, their sequences, frame order, ranges and mismatches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rainy_sequences import rainy_sequence, write_frames, write_video

from derain_cli.errors import DerainError, UsageError
from derain_cli.video.sets import FrameRange, find_video_set, frame_count, read_sequence, sequence_problems


def test_nested_frame_folders_are_found_without_being_told(tmp_path: Path) -> None:
    rainy, clean = rainy_sequence(3)
    for name in ("s10", "s2"):
        write_frames(tmp_path / "input" / name, rainy)
        write_frames(tmp_path / "target" / name, clean)
    write_frames(tmp_path / "input" / "lonely", rainy[:1])
    found = find_video_set(tmp_path)
    assert found is not None and found.paired and found.layout == "input/+target/SEQ"
    assert [s.name for s in found.sequences] == ["s2", "s10"]
    assert found.problems == [f"{tmp_path / 'input' / 'lonely'}: no matching clean sequence"]


def test_flat_frames_are_video_only_when_told(tmp_path: Path) -> None:
    rainy, clean = rainy_sequence(2)
    write_frames(tmp_path / "input", rainy)
    write_frames(tmp_path / "target", clean)
    assert find_video_set(tmp_path) is None  # an image pair set
    found = find_video_set(tmp_path, video=True)
    assert found is not None and [(s.name, s.rainy, s.clean) for s in found.sequences] == [
        (tmp_path.name, tmp_path / "input", tmp_path / "target")
    ]


def test_input_only_sets(tmp_path: Path) -> None:
    rainy, _ = rainy_sequence(2)
    frames = tmp_path / "frames"
    write_frames(frames, rainy)
    assert find_video_set(frames) is None
    one = find_video_set(frames, video=True)
    assert one is not None and not one.paired and [s.name for s in one.sequences] == ["frames"]
    several = tmp_path / "real"
    write_frames(several / "street", rainy)
    write_video(several / "road.mkv", rainy)
    found = find_video_set(several, video=True)
    assert found is not None and [(s.name, s.clean) for s in found.sequences] == [("road", None), ("street", None)]
    clip = find_video_set(several / "road.mkv")  # a video file is video without being told
    assert clip is not None and [s.rainy for s in clip.sequences] == [several / "road.mkv"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DerainError, match="holds no frames"):
        find_video_set(empty, video=True)


def test_frames_come_in_natural_order_and_ranges_pick_them(tmp_path: Path) -> None:
    rainy, clean = rainy_sequence(12)
    names = [f"f{i}" for i in range(1, 13)]  # f10 must come after f9, not after f1
    write_frames(tmp_path / "input" / "a", rainy, names)
    write_frames(tmp_path / "target" / "a", clean, names)
    (sequence,) = find_video_set(tmp_path).sequences
    frames = list(read_sequence(sequence))
    assert [f.name for f in frames] == names
    assert all(np.array_equal(f.rainy, r) and np.array_equal(f.clean, c) for f, r, c in zip(frames, rainy, clean))
    picked = list(read_sequence(sequence, FrameRange.parse("9:11")))
    assert [f.name for f in picked] == ["f9", "f10", "f11"]
    assert frame_count(sequence, FrameRange(9, 11)) == 3 and frame_count(sequence, FrameRange(5)) == 8
    with pytest.raises(DerainError, match="no frames in the range 20:"):
        list(read_sequence(sequence, FrameRange(20)))


@pytest.mark.parametrize("text", ["41-80", "0:3", "5:4", "a:b", "7"])
def test_bad_frame_ranges(text: str) -> None:
    with pytest.raises(UsageError, match="--frames"):
        FrameRange.parse(text)


def test_video_files_are_paired_by_name_and_frames_by_position(tmp_path: Path) -> None:
    rainy, clean = rainy_sequence(4)
    write_video(tmp_path / "input" / "clip.mkv", rainy)
    write_video(tmp_path / "target" / "clip.mkv", clean)
    (sequence,) = find_video_set(tmp_path).sequences
    frames = list(read_sequence(sequence, FrameRange(2, 3)))
    assert [f.name for f in frames] == ["00002", "00003"]
    assert np.array_equal(frames[0].rainy, rainy[1]) and np.array_equal(frames[1].clean, clean[2])
    write_video(tmp_path / "target" / "clip.mkv", clean[:3])
    with pytest.raises(DerainError, match="holds fewer frames than"):
        list(read_sequence(sequence))


def test_unmatched_and_mismatched_frames_are_reported(tmp_path: Path) -> None:
    rainy, clean = rainy_sequence(3)
    write_frames(tmp_path / "input" / "a", rainy)
    write_frames(tmp_path / "target" / "a", clean[:2])
    (sequence,) = find_video_set(tmp_path).sequences
    assert sequence_problems(sequence) == [f"{tmp_path / 'input' / 'a' / '3.png'}: no matching clean frame"]
    assert len(list(read_sequence(sequence))) == 2
    write_frames(tmp_path / "target" / "a", [clean[0][:20]], ["2"])
    with pytest.raises(DerainError, match=r"target/a: frame 2 is 56x20, the rainy one 56x40"):
        list(read_sequence(sequence))
