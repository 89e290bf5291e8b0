"""Small real clips made with PyAV for the video tests, and a random-weights SAPNet to derain them."""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from derain_cli.checkpoints import architecture_metadata, save_safetensors
from derain_cli.models import create_model


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    """A SAPNet checkpoint with random weights, its output layer scaled so that its output differs
    clearly from its input (about 20 grey levels on average): encoding errors cannot hide it."""
    torch.manual_seed(6)
    state = create_model("sapnet").state_dict()
    state["conv.0.weight"] *= 3
    state["conv.0.bias"] *= 3
    path = tmp_path_factory.mktemp("weights") / "sapnet.safetensors"
    return save_safetensors(state, path, architecture_metadata("sapnet"))


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Frames here are tiny: one thread is as fast, and much faster when other jobs share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def scene(width: int, height: int, index: int) -> np.ndarray:
    """A smooth moving picture (gradients and a bright bar) that H.264 keeps faithfully."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 60 + 130 * x / max(1, width - 1)
    green = 60 + 130 * y / max(1, height - 1)
    blue = 128 + 50 * np.sin((x + y + 3 * index) / 6.0)
    image = np.stack([red, green, blue], axis=2)
    image[:, (4 * index) % width : (4 * index) % width + 4] += 50
    return np.clip(image, 0, 255).astype(np.uint8)


def make_clip(
    path: Path,
    width: int = 32,
    height: int = 24,
    frames: int = 6,
    fps: int = 12,
    audio: str | None = None,
    rotation: int | None = None,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    audio_rate: int = 16000,
) -> Path:
    """Write a clip of ``frames`` frames; ``audio``: an audio encoder (aac, pcm_mulaw, ...) for a mono
    tone as long as the video (``audio_rate`` Hz); ``pts``/``time_base``: explicit (variable) timestamps."""
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        if time_base is not None:
            video.codec_context.time_base = video.time_base = time_base
        if rotation is not None:
            video.set_display_rotation(rotation)
        sound = container.add_stream(audio, rate=audio_rate) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(scene(width, height, index), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[index], time_base
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            _write_tone(container, sound, frames / fps, audio_rate)
    return path


def _write_tone(container: av.container.OutputContainer, sound: av.AudioStream, seconds: float, rate: int) -> None:
    total, done = int(rate * seconds), 0
    while done < total:
        tone = (0.3 * np.sin(np.arange(done, done + 1024) / 7.0)).astype(np.float32)[None]
        data = tone if sound.format.name in ("flt", "fltp") else (tone * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(data, format="flt" if data.dtype == np.float32 else "s16", layout="mono")
        frame.sample_rate, frame.pts = rate, done
        container.mux(sound.encode(frame))
        done += 1024
    container.mux(sound.encode(None))


def decode_rgb(path: Path) -> list[np.ndarray]:
    """Every frame of the first video stream as H x W x 3 uint8 RGB (coded orientation)."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def audio_packets(path: Path) -> list[bytes]:
    """The payloads of the first audio stream's packets."""
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def frame_bomb(path: Path, width: int = 14000, height: int = 14000) -> Path:
    """A real one-frame clip of a few hundred bytes whose frame declares ``width`` x ``height``: a 16 x 16
    PNG frame in a .mov, or an MJPEG frame in a .mkv (Matroska holds no PNG), its header patched."""
    codec, pix_fmt = ("png", "rgb24") if path.suffix == ".mov" else ("mjpeg", "yuvj420p")
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=1)
        video.width, video.height, video.pix_fmt = 16, 16, pix_fmt
        frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 100, np.uint8), format="rgb24").reformat(format=pix_fmt)
        packets = video.encode(frame)
        encoded = b"".join(bytes(packet) for packet in packets)  # before muxing, which hands the buffers over
        container.mux(packets)
        container.mux(video.encode(None))
    data = bytearray(path.read_bytes())
    if codec == "png":
        at = data.index(b"IHDR")
        data[at + 4 : at + 12] = struct.pack(">II", width, height)
        data[at + 17 : at + 21] = struct.pack(">I", zlib.crc32(bytes(data[at : at + 17])))
    else:
        # the JPEG frame header (SOF0: precision, height, width), searched inside the frame's own bytes: the
        # container's random segment UID may hold the same two bytes
        at = data.index(b"\xff\xc0", data.index(encoded))
        data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path
