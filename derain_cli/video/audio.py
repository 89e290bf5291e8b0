"""Audio into the output: packets copied unchanged, or re-encoded when the container cannot hold the codec."""

from __future__ import annotations

from typing import Union

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer

from derain_cli.errors import DerainError


class AudioCopy:
    """Muxes the input stream's packets as they are."""

    def __init__(self, container: OutputContainer, template: AudioStream) -> None:
        self.container = container
        self.stream = container.add_stream_from_template(template)  # ValueError if the format refuses the codec
        self.description = f"audio {template.codec_context.name} copied"

    def write(self, packet: av.Packet) -> None:
        packet.stream = self.stream
        self.container.mux(packet)

    def flush(self) -> None:
        """Nothing is buffered."""


class AudioTranscode:
    """Decodes the input stream's packets (with a decoder of its own) and encodes them with ``codec``."""

    def __init__(self, container: OutputContainer, template: AudioStream, codec: str) -> None:
        source = template.codec_context
        self.container = container
        self.decoder = av.CodecContext.create(source.name, "r")
        self.decoder.sample_rate = source.sample_rate
        self.decoder.layout = source.layout
        if source.extradata:
            self.decoder.extradata = source.extradata
        self.stream = container.add_stream(codec, rate=_encoder_rate(codec, source.sample_rate))
        self.stream.layout = source.layout  # PyAV's encoder resamples to the stream's rate and sample format
        self.description = f"audio {source.name} re-encoded as {codec} ({container.format.name} cannot hold {source.name})"

    def write(self, packet: av.Packet) -> None:
        self._encode(self.decoder.decode(packet))

    def flush(self) -> None:
        self._encode(self.decoder.decode(None))
        self.container.mux(self.stream.encode(None))

    def _encode(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            self.container.mux(self.stream.encode(frame))


def _encoder_rate(codec: str, rate: int) -> int:
    """``rate`` if the encoder takes it, else the nearest higher rate it takes (Opus: 8-48 kHz only, no 44.1 kHz)."""
    rates = av.Codec(codec, "w").audio_rates
    if not rates or rate in rates:
        return rate
    return min((r for r in rates if r >= rate), default=max(rates))


AudioRoute = Union[AudioCopy, AudioTranscode]


def add_audio(container: OutputContainer, template: AudioStream) -> AudioRoute:
    """Copy ``template``'s packets into ``container`` if it can hold the codec, else re-encode to its default."""
    try:
        return AudioCopy(container, template)
    except ValueError:
        codec = container.default_audio_codec
        if codec in ("none", ""):
            raise DerainError(
                f"{container.name}: the {container.format.name} format holds neither {template.codec_context.name} audio nor any default"
            ) from None
        return AudioTranscode(container, template, codec)
