"""Reading video: any file FFmpeg reads, or a folder of numbered images, as RGB frames plus audio packets.

A source yields, in file order, decoded video frames (:class:`Frame`, with their timestamps) and
the audio packets to copy (:class:`AudioPacket`). ``start``/``end`` (seconds from the first frame) pick
a part; the part's timestamps are shifted to start at zero, audio and video alike.
"""

from __future__ import annotations

import math
import os
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Union

import av
import numpy as np
from av.audio.stream import AudioStream
from av.sidedata.sidedata import Type as SideDataType

from derain_cli.errors import DerainError, UsageError
from derain_cli.imageio import IMAGE_SUFFIXES, MAX_PIXELS, read_rgb8
from derain_cli.pairs import natural_key

DEFAULT_FPS = 25.0
_UNSPECIFIED = 2  # AVCOL_SPC / AVCOL_PRI / AVCOL_TRC "unspecified"
_BT709 = 1
# FFmpeg's own guard, set on the probing and the decoding codec contexts: a frame declaring more pixels
# than an image may have is refused by the decoder before its buffer is allocated (a 600 KB MOV can
# declare a 14000 x 14000 PNG frame).
_DECODER_OPTIONS = {"max_pixels": str(MAX_PIXELS)}
MAX_FPS = 1000.0
MIN_FPS = 0.01


@dataclass(frozen=True)
class Colour:
    """The colour tags of a stream (FFmpeg's AVColorSpace, AVColorRange, AVColorPrimaries, AVColorTransferCharacteristic)."""

    space: int = _UNSPECIFIED
    range: int = 0
    primaries: int = _UNSPECIFIED
    trc: int = _UNSPECIFIED


@dataclass(frozen=True)
class VideoInfo:
    """What the output needs to look like the input."""

    width: int
    height: int
    time_base: Fraction
    rate: Fraction
    frames: int | None  # expected frame count (for progress), None when unknown
    rotation: int = 0  # degrees counter-clockwise a player turns the picture
    display_matrix: tuple[int, ...] | None = None
    colour: Colour = field(default_factory=Colour)


@dataclass
class Frame:
    """A decoded frame: H x W x 3 uint8 RGB, its timestamp and duration in ``VideoInfo.time_base`` units."""

    rgb: np.ndarray
    pts: int
    duration: int


@dataclass
class AudioPacket:
    """A packet of the input's audio stream number ``index`` (the packet itself changes stream when muxed)."""

    index: int
    packet: av.Packet


Item = Union[Frame, AudioPacket]


def check_window(start: float | None, end: float | None) -> None:
    """Refuse a negative or infinite start or end, or an end not after the start."""
    for name, value in (("--start", start), ("--end", end)):
        if value is not None and not math.isfinite(value):
            raise UsageError(f"{name} must be a finite number of seconds, got {value}")
    if start is not None and start < 0:
        raise UsageError(f"--start must be >= 0 seconds, got {start}")
    if end is not None and end <= (start or 0):
        raise UsageError(f"--end ({end} s) must be after --start ({start or 0} s)")


class Source:
    """Frames and audio packets from some input; use as a context manager (or call ``close``)."""

    path: Path
    info: VideoInfo
    audio: list[AudioStream]

    def items(self) -> Iterator[Item]:
        """Video frames of the part and the audio packets within it, in file order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the input."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class FileSource(Source):
    """A video file: the first video stream is decoded, every audio stream is passed on as packets."""

    def __init__(self, path: Path, start: float | None = None, end: float | None = None) -> None:
        self.path = path
        try:
            self.container = av.open(str(path), metadata_errors="replace", options=_DECODER_OPTIONS)
        except av.FFmpegError as exc:
            raise DerainError(f"{path}: cannot read it as a video ({_reason(exc)})") from None
        try:
            self._setup(start, end)
        except BaseException:
            self.container.close()
            raise

    def _setup(self, start: float | None, end: float | None) -> None:
        if not self.container.streams.video:
            raise DerainError(f"{self.path}: no video stream")
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.video.codec_context.options = dict(_DECODER_OPTIONS)
        declared = self.video.codec_context
        if declared.width * declared.height > MAX_PIXELS:
            raise DerainError(
                f"{self.path}: declares {declared.width}x{declared.height} frames, more than {MAX_PIXELS:,} pixels (the limit); not read"
            )
        self.audio: list[AudioStream] = list(self.container.streams.audio)
        tb = self.video.time_base or Fraction(1, 90000)
        rate = self.video.average_rate or self.video.guessed_rate or Fraction(DEFAULT_FPS)
        self._time_base, self._step = tb, max(1, round(1 / (rate * tb)))
        self._origin = float((self.video.start_time or 0) * tb)
        self._start, self._end = start or 0.0, end
        self._shift = self._origin + self._start if start else 0.0  # seconds removed from every timestamp
        self._last_pts: int | None = None
        self._stream_end: int | None = None  # end of the last video packet read, in stream time base
        if start:
            self._check_start(start)
            self._seek(self._origin + start)
        self._raw = self._window()
        self._peeked: deque[Item | av.VideoFrame] = deque()
        first = self._peek_frame()
        self.info = VideoInfo(
            width=first.width,
            height=first.height,
            time_base=tb,
            rate=rate,
            frames=self._expected_frames(rate),
            rotation=first.rotation,
            display_matrix=_display_matrix(first),
            colour=Colour(first.colorspace, first.color_range, first.color_primaries, first.color_trc),
        )

    def _check_start(self, start: float) -> None:
        """A start at or past the end of a video of known length is refused before anything is decoded."""
        length = self._length()
        if length is not None and start >= length:
            raise DerainError(f"{self.path}: --start {start:g} s is past the end of the video ({length:.3f} s)")

    def _length(self) -> float | None:
        """Seconds the video lasts by its header (None when it does not say)."""
        if self.video.duration:
            return float(self.video.duration * self._time_base)
        if self.container.duration:
            return self.container.duration / av.time_base
        return None

    def _seek(self, seconds: float) -> None:
        try:
            self.container.seek(int(seconds / self._time_base), stream=self.video, backward=True)
        except (av.FFmpegError, OverflowError):
            pass  # not seekable: decode from the start, skipping frames before the part

    def _demux(self) -> Iterator[av.VideoFrame | av.Packet]:
        """Decoded video frames (timestamps repaired) and audio packets, in file order.

        A file that ends before the frames its index lists is truncated: an error, not a shorter
        video with exit status 0 (threaded decoding drops the error on the cut packet).
        """
        packets = 0
        for packet in self.container.demux(self.video, *self.audio):
            if packet.stream.type == "video":
                packets += packet.size > 0
                if packet.size > 0 and packet.pts is not None:
                    self._stream_end = max(self._stream_end or packet.pts, packet.pts + (packet.duration or 0))
                for frame in packet.decode():
                    frame.pts = self._repair(frame.pts)
                    yield frame
            elif packet.dts is not None:  # demux ends each stream with an empty flush packet
                yield packet
        if not self._start and self.video.frames and packets < self.video.frames:
            raise DerainError(f"{self.path}: truncated or corrupt: it holds {packets} of the {self.video.frames} frames its index lists")
        self._check_complete()

    def _check_complete(self) -> None:
        """After a seek (``--start``) frames cannot be counted: the last packet must reach the length the header gives."""
        if not (self._start and self.video.frames and self.video.duration and self._stream_end is not None):
            return
        expected = (self.video.start_time or 0) + self.video.duration
        if self._stream_end < expected - 2 * self._step:
            reached, length = float(self._stream_end * self._time_base), float(expected * self._time_base)
            raise DerainError(f"{self.path}: truncated or corrupt: its frames end at {reached:.3f} s, its index says {length:.3f} s")

    def _repair(self, pts: int | None) -> int:
        """Frames without a timestamp, or out of order, continue from the previous frame."""
        if pts is None or (self._last_pts is not None and pts <= self._last_pts):
            pts = self._last_pts + self._step if self._last_pts is not None else 0
        self._last_pts = pts
        return pts

    def _window(self) -> Iterator[av.VideoFrame | av.Packet]:
        """What lies inside the part; stops at the first frame after it."""
        for raw in self._guarded(self._demux()):
            if isinstance(raw, av.Packet):
                stamp = raw.pts if raw.pts is not None else raw.dts
                if self._inside(stamp, raw.time_base):
                    yield raw
            else:
                inside = self._inside(raw.pts, self._time_base)
                if inside is None:
                    return
                if inside:
                    yield raw

    def _inside(self, stamp: int, time_base: Fraction) -> bool | None:
        """True inside the part, False before it, None after it."""
        seconds = float(stamp * time_base) - self._origin
        if self._end is not None and seconds >= self._end:
            return None
        return not self._start or seconds >= self._start  # without --start, nothing is cut (AAC priming, ...)

    def _peek_frame(self) -> av.VideoFrame:
        """Read up to the first frame of the part, keeping what was read for ``items``."""
        for raw in self._raw:
            self._peeked.append(raw)
            if isinstance(raw, av.VideoFrame):
                return raw
        part = " in the chosen part" if self._start or self._end is not None else ""
        raise DerainError(f"{self.path}: no video frames{part}")

    def _expected_frames(self, rate: Fraction) -> int | None:
        if self.video.frames and not self._start and self._end is None:
            return self.video.frames
        duration = self._length()
        stops = [x for x in (duration, self._end) if x is not None]
        return max(1, math.ceil((min(stops) - self._start) * float(rate))) if stops else None

    def _convert(self, raw: av.VideoFrame | av.Packet) -> Item:
        """Shift timestamps so the part starts at zero; frames become RGB arrays."""
        if isinstance(raw, av.Packet):
            shift = round(self._shift / raw.time_base)
            if raw.pts is not None:
                raw.pts -= shift
            raw.dts -= shift
            return AudioPacket(raw.stream.index, raw)
        rgb = raw.to_ndarray(format="rgb24", width=self.info.width, height=self.info.height)
        duration = raw.duration if raw.duration and raw.duration > 0 else self._step
        return Frame(rgb, raw.pts - round(self._shift / self._time_base), duration)

    def items(self) -> Iterator[Item]:
        while self._peeked:
            yield self._convert(self._peeked.popleft())
        for raw in self._raw:
            yield self._convert(raw)

    def _guarded(self, raw: Iterator[av.VideoFrame | av.Packet]) -> Iterator[av.VideoFrame | av.Packet]:
        try:
            yield from raw
        except av.FFmpegError as exc:
            raise DerainError(
                f"{self.path}: cannot decode ({_reason(exc)}): corrupt, or a frame of more than {MAX_PIXELS:,} pixels (the limit)"
            ) from None

    def close(self) -> None:
        self.container.close()


class FolderSource(Source):
    """A folder of images (frame_0001.png, ...) in natural order, played at ``fps`` frames per second."""

    def __init__(self, folder: Path, fps: float, start: float | None = None, end: float | None = None) -> None:
        if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
            raise UsageError(f"--fps must be between {MIN_FPS:g} and {MAX_FPS:g} frames per second, got {fps}")
        self.path = folder
        self.audio: list[AudioStream] = []
        names = sorted(
            (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
            key=lambda p: natural_key(p.name),
        )
        if not names:
            raise DerainError(f"{folder}: folder holds no images")
        first = math.ceil((start or 0) * fps - 1e-9)
        last = math.ceil(end * fps - 1e-9) if end is not None else len(names)
        self.files = names[first:last]
        if not self.files:
            raise DerainError(f"{folder}: no video frames in the chosen part")
        height, width = read_rgb8(self.files[0]).shape[:2]
        rate = Fraction(fps).limit_denominator(1001)
        self.info = VideoInfo(width, height, 1 / rate, rate, len(self.files), colour=Colour(_BT709, 1, _BT709, _BT709))

    def items(self) -> Iterator[Item]:
        for index, path in enumerate(self.files):
            rgb = read_rgb8(path)
            if rgb.shape[:2] != (self.info.height, self.info.width):
                raise DerainError(
                    f"{path}: frame is {rgb.shape[1]}x{rgb.shape[0]}, the sequence is {self.info.width}x{self.info.height}"
                )
            yield Frame(rgb, index, 1)


def open_source(path: Path, start: float | None = None, end: float | None = None, fps: float | None = None) -> Source:
    """Open a video file or an image-sequence folder (``fps``: its frame rate, default 25)."""
    check_window(start, end)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DerainError(f"{path}: file not found") from None
    except OSError as exc:
        raise DerainError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise DerainError(f"{path}: not a regular file (a FIFO, socket or device); not read")
    if stat.S_ISDIR(mode):
        return FolderSource(path, DEFAULT_FPS if fps is None else fps, start, end)
    if fps is not None:
        raise UsageError(f"{path}: --fps applies to image-sequence folders only; a video keeps its own timing")
    return FileSource(path, start, end)


def _display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    data = frame.side_data.get(SideDataType.DISPLAYMATRIX)
    return tuple(np.frombuffer(bytes(data), dtype=np.int32).tolist()) if data is not None else None


def _reason(exc: av.FFmpegError) -> str:
    return exc.strerror or str(exc)
