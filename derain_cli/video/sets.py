"""Video sets for ``derain eval``: sequences of rainy frames, with their clean frames when there is ground truth.

Layouts (the rainy/clean sub-folder pairs of :data:`derain_cli.pairs.FOLDER_LAYOUTS`: input/+target/, ...):

- nested, detected by itself: ``input/SEQ/`` frame folders or ``input/SEQ.mp4`` video files, each with its
  ``target/SEQ/`` or ``target/SEQ.mp4`` partner, matched by name;
- flat, when the caller says it is a video: ``input/*.jpg`` + ``target/*.jpg`` form one sequence named
  after the root folder;
- input only (real video, no ground truth), when the caller says it is a video or gives a video file:
  a folder of frames (one sequence), a folder of frame folders and/or video files (one sequence each),
  or a video file.

Frames are taken in natural order of their file names (``2.jpg`` before ``10.jpg``); in two frame folders
they are matched by name as image pairs are, and frames without a partner are reported, never dropped
silently. Frames of video files are named ``00001``, ``00002``, ... and matched by position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from derain_cli.errors import DerainError, UsageError
from derain_cli.imageio import read_rgb8
from derain_cli.pairs import FOLDER_LAYOUTS, folder_key, image_files, index_by_key, natural_key
from derain_cli.video.source import Frame, open_source

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".y4m"})


@dataclass(frozen=True)
class FrameRange:
    """Frames ``first`` to ``last`` of every sequence, counted from 1 in natural order, both included
    (``last`` None: to the end)."""

    first: int = 1
    last: int | None = None

    def __post_init__(self) -> None:
        if self.first < 1 or (self.last is not None and self.last < self.first):
            raise UsageError(f"--frames {self}: frames are counted from 1 and the range must not be empty")

    def __str__(self) -> str:
        return f"{self.first}:{self.last or ''}"

    @classmethod
    def parse(cls, text: str) -> FrameRange:
        """``A:B``, ``A:`` or ``:B`` (1-based, inclusive), e.g. ``41:80``."""
        first, sep, last = text.partition(":")
        try:
            if not sep:
                raise ValueError
            return cls(int(first) if first.strip() else 1, int(last) if last.strip() else None)
        except ValueError:
            raise UsageError(f"--frames {text!r}: give a range A:B of frame numbers counted from 1, e.g. 41:80") from None

    def take(self, index: int) -> bool | None:
        """Is frame ``index`` (0-based) inside: True, False before the range, None past its end."""
        if self.last is not None and index >= self.last:
            return None
        return index >= self.first - 1


ALL_FRAMES = FrameRange()


@dataclass(frozen=True)
class VideoSequence:
    """One sequence: its rainy frames (a frame folder or a video file) and its clean ones, if any."""

    name: str
    rainy: Path
    clean: Path | None = None


@dataclass(frozen=True)
class SequenceFrame:
    """One frame of a sequence: its name (the input file's stem, or ``00001`` for a video file)."""

    name: str
    rainy: np.ndarray
    clean: np.ndarray | None


@dataclass
class VideoSet:
    """The sequences found under ``root`` and a line for each input left without a partner."""

    root: Path
    layout: str
    sequences: list[VideoSequence]
    problems: list[str] = field(default_factory=list)

    @property
    def paired(self) -> bool:
        """Whether there is ground truth (then the flow of the warping error is computed on it)."""
        return all(s.clean is not None for s in self.sequences)


def is_video_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".")


def _holds_images(folder: Path) -> bool:
    return folder.is_dir() and bool(image_files(folder))


def _sequences_in(folder: Path) -> dict[str, Path]:
    """Frame folders and video files directly in ``folder``, by name (stem for files)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
        if path.name.startswith("."):
            continue
        if _holds_images(path) or is_video_file(path):
            found.setdefault(path.stem if path.is_file() else path.name, path)
    return found


def _paired_folders(root: Path) -> tuple[str, Path, Path] | None:
    for layout, rainy, clean in FOLDER_LAYOUTS:
        if (root / rainy).is_dir() and (root / clean).is_dir():
            return layout, root / rainy, root / clean
    return None


def find_video_set(root: str | Path, video: bool = False) -> VideoSet | None:
    """The video set at ``root``, or None when ``root`` is an image pair set (and ``video`` is False).

    ``video``: the caller says it is video; needed for the flat layout and for input-only folders.
    Raises DerainError when ``root`` is missing, or holds no sequence although ``video`` is set.
    """
    root = Path(root)
    if not root.exists():
        raise DerainError(f"{root}: not found")
    if root.is_file():
        if not is_video_file(root):
            raise DerainError(f"{root}: not a video file or a folder")
        return VideoSet(root, "video file, input only", [VideoSequence(root.stem, root)])
    paired = _paired_folders(root)
    if paired is not None:
        layout, rainy_dir, clean_dir = paired
        rainy, clean = _sequences_in(rainy_dir), _sequences_in(clean_dir)
        if rainy or clean:
            return _match(root, f"{layout}SEQ", rainy, clean)
        if video:
            return VideoSet(root, f"{layout} one sequence", [VideoSequence(root.resolve().name, rainy_dir, clean_dir)])
        return None
    if not video:
        return None
    if _holds_images(root):
        return VideoSet(root, "frames, input only", [VideoSequence(root.resolve().name, root)])
    found = _sequences_in(root)
    if not found:
        raise DerainError(f"{root}: holds no frames, frame folders or video files")
    return VideoSet(root, "SEQ/ or SEQ.mp4, input only", [VideoSequence(name, path) for name, path in found.items()])


def _match(root: Path, layout: str, rainy: dict[str, Path], clean: dict[str, Path]) -> VideoSet:
    problems = [f"{rainy[k]}: no matching clean sequence" for k in rainy.keys() - clean.keys()]
    problems += [f"{clean[k]}: no matching rainy sequence" for k in clean.keys() - rainy.keys()]
    names = sorted(rainy.keys() & clean.keys(), key=natural_key)
    if not names:
        raise DerainError(f"{root}: layout {layout} found but it holds no matching sequences")
    return VideoSet(root, layout, [VideoSequence(n, rainy[n], clean[n]) for n in names], sorted(problems))


def frame_count(sequence: VideoSequence, frames: FrameRange = ALL_FRAMES) -> int | None:
    """How many frames :func:`read_sequence` will yield, when known without decoding (frame folders)."""
    if sequence.rainy.is_file():
        return None
    total = len(_folder_frames(sequence)[0])
    last = total if frames.last is None else min(total, frames.last)
    return max(0, last - frames.first + 1)


def _folder_frames(sequence: VideoSequence) -> tuple[list[tuple[str, Path, Path | None]], list[str]]:
    """(name, rainy file, clean file) of a frame-folder sequence in natural order, and the unmatched files."""
    rainy, problems = index_by_key(image_files(sequence.rainy), folder_key)
    if sequence.clean is None or sequence.clean.is_file():  # a clean video file is matched by position
        return [(path.stem, path, None) for path in rainy.values()], problems
    clean, more = index_by_key(image_files(sequence.clean), folder_key)
    problems += more + [f"{rainy[k]}: no matching clean frame" for k in rainy.keys() - clean.keys()]
    problems += [f"{clean[k]}: no matching rainy frame" for k in clean.keys() - rainy.keys()]
    keys = sorted(rainy.keys() & clean.keys(), key=natural_key)
    return [(rainy[k].stem, rainy[k], clean[k]) for k in keys], sorted(problems)


def sequence_problems(sequence: VideoSequence) -> list[str]:
    """Frames of a frame-folder sequence left without a partner (they are not scored)."""
    return _folder_frames(sequence)[1] if sequence.rainy.is_dir() else []


def _decoded(path: Path) -> Iterator[np.ndarray]:
    """The frames of a video file or a frame folder, in order."""
    with open_source(path) as source:
        for item in source.items():
            if isinstance(item, Frame):
                yield item.rgb


_Load = Callable[[], np.ndarray]


def _streams(sequence: VideoSequence) -> Iterator[tuple[str, _Load, _Load | None]]:
    """Every frame of the sequence with what reads it: an image file is read only when asked for
    (frames before a range cost nothing), a video is decoded once, never held whole."""
    if sequence.rainy.is_dir() and (sequence.clean is None or sequence.clean.is_dir()):
        for name, rainy, clean in _folder_frames(sequence)[0]:
            yield name, partial(read_rgb8, rainy), partial(read_rgb8, clean) if clean is not None else None
        return
    clean_frames = _decoded(sequence.clean) if sequence.clean is not None else None
    names = [p.stem for p in sorted(image_files(sequence.rainy), key=lambda p: natural_key(p.name))] if sequence.rainy.is_dir() else []
    for index, rainy in enumerate(_decoded(sequence.rainy)):
        clean = next(clean_frames, None) if clean_frames is not None else None
        if clean_frames is not None and clean is None:
            raise DerainError(f"{sequence.clean}: holds fewer frames than {sequence.rainy} ({index})")
        name = names[index] if names else f"{index + 1:05d}"
        yield name, partial(_same, rainy), partial(_same, clean) if clean is not None else None
    if clean_frames is not None and next(clean_frames, None) is not None:
        raise DerainError(f"{sequence.clean}: holds more frames than {sequence.rainy}")


def _same(frame: np.ndarray) -> np.ndarray:
    return frame


def read_sequence(sequence: VideoSequence, frames: FrameRange = ALL_FRAMES) -> Iterator[SequenceFrame]:
    """The frames of ``frames`` in order, each read when needed; DerainError names the file and the problem
    (unreadable, sizes that differ within the sequence or from the clean frame)."""
    size: tuple[int, ...] | None = None
    for index, (name, load_rainy, load_clean) in enumerate(_streams(sequence)):
        inside = frames.take(index)
        if inside is None:
            return
        if not inside:
            continue
        rainy, clean = load_rainy(), load_clean() if load_clean is not None else None
        size = size or rainy.shape
        if rainy.shape != size:
            raise DerainError(
                f"{sequence.rainy}: frame {name} is {rainy.shape[1]}x{rainy.shape[0]}, the sequence {size[1]}x{size[0]}"
            )
        if clean is not None and clean.shape != rainy.shape:
            raise DerainError(
                f"{sequence.clean}: frame {name} is {clean.shape[1]}x{clean.shape[0]}, the rainy one {rainy.shape[1]}x{rainy.shape[0]}"
            )
        yield SequenceFrame(name, rainy, clean)
    if size is None:
        raise DerainError(f"{sequence.rainy}: no frames in the range {frames}")
