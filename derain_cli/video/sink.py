"""Writing video: RGB frames encoded (H.264 by default) with the input's timing, colour tags and rotation."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from derain_cli.errors import DerainError, UsageError
from derain_cli.video.audio import AudioRoute, add_audio
from derain_cli.video.encode import CRF_CODECS, DEFAULT_CODEC, EncodeSettings
from derain_cli.video.source import VideoInfo


def pixel_format(codec: str, width: int, height: int) -> str:
    """yuv420p for even sizes (plays everywhere); 4:2:0 cannot hold odd sizes, so yuv444p keeps them exactly."""
    formats = [f.name for f in av.Codec(codec, "w").video_formats or ()]
    even = width % 2 == 0 and height % 2 == 0
    preferred = ("yuv420p", "yuv444p") if even else ("yuv444p", "gbrp", "rgb24")  # rgb24: PNG, any size
    for name in preferred:
        if name in formats or not formats:
            return name
    if even and formats:
        return formats[0]
    raise DerainError(f"the {codec} encoder cannot encode the odd size {width}x{height}; try --codec libx264")


class VideoSink:
    """One output file being written: an encoded video stream, then the input's audio streams."""

    def __init__(
        self, path: Path, info: VideoInfo, audio: list[AudioStream], settings: EncodeSettings, label: Path
    ) -> None:
        self.label = label
        try:
            self.container = av.open(str(path), "w")
        except ValueError:
            kind = f"unknown video format {label.suffix!r}" if label.suffix else "no suffix to tell the video format"
            raise UsageError(f"{label}: {kind}; use .mp4, .mkv, .mov or .webm") from None
        try:
            self.video = self._add_video(info, settings)
            self.audio: dict[int, AudioRoute] = {s.index: add_audio(self.container, s) for s in audio}
            self._start()
        except (DerainError, ValueError, av.FFmpegError, OSError) as exc:
            self.container.close()
            raise DerainError(f"{label}: cannot write video ({_reason(exc)})") from None
        except BaseException:
            self.container.close()
            raise

    def _start(self) -> None:
        """Open the file and encoders now, before any frame is derained; a refusal names the format and codecs."""
        try:
            self.container.start_encoding()
        except av.FFmpegError as exc:
            codecs = [f"{self.video.codec_context.name} video"] + [f"{a.stream.codec_context.name} audio" for a in self.audio.values()]
            raise DerainError(
                f"the {self.container.format.name} format refuses {' with '.join(codecs)} ({_reason(exc)}); "
                "choose another output suffix or --codec"
            ) from None

    def _add_video(self, info: VideoInfo, settings: EncodeSettings) -> VideoStream:
        codec = settings.codec or DEFAULT_CODEC
        try:
            stream = self.container.add_stream(codec, rate=info.rate)
        except ValueError:
            if settings.codec:
                raise DerainError(
                    f"the {self.container.format.name} format cannot hold {codec} video; choose another --codec"
                ) from None
            stream = self.container.add_stream(self.container.default_video_codec, rate=info.rate)
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = pixel_format(stream.codec_context.name, info.width, info.height)
        stream.time_base = info.time_base
        context = stream.codec_context
        context.time_base = info.time_base
        if context.name in CRF_CODECS:
            # libvpx-vp9 is in constant-quality mode only with a zero target bit rate.
            context.options = {"crf": str(settings.crf), **({"b": "0"} if context.name == "libvpx-vp9" else {})}
        context.colorspace = info.colour.space
        context.color_range = info.colour.range
        context.color_primaries = info.colour.primaries
        context.color_trc = info.colour.trc
        if info.display_matrix:
            stream.set_display_matrix(info.display_matrix)
        self.colour = info.colour
        return stream

    @property
    def description(self) -> str:
        """What is written, e.g. ``libx264 yuv420p, audio aac copied``."""
        parts = [f"{self.video.codec_context.name} {self.video.pix_fmt}"] + [a.description for a in self.audio.values()]
        return ", ".join(parts)

    def write(self, rgb: np.ndarray, pts: int, duration: int) -> None:
        """Encode one H x W x 3 uint8 frame at ``pts`` (in the input's time base)."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
            format=self.video.pix_fmt, dst_colorspace=self.colour.space, dst_color_range=self.colour.range
        )
        frame.pts, frame.time_base, frame.duration = pts, self.video.codec_context.time_base, duration
        self.container.mux(self.video.encode(frame))

    def write_audio(self, source_index: int, packet: av.Packet) -> None:
        """Pass on a packet of the input's audio stream number ``source_index`` (copied or re-encoded)."""
        self.audio[source_index].write(packet)

    def finish(self) -> None:
        """Flush the encoders; ``close`` then writes the trailer."""
        self.container.mux(self.video.encode(None))
        for route in self.audio.values():
            route.flush()

    def close(self) -> None:
        self.container.close()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
