"""Files made to break an image reader: headers claiming huge sizes, a real huge PNG, odd names, FIFOs."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

NON_UTF8_NAME = os.fsdecode(b"\xff\xfe.png")  # not valid UTF-8: Python holds it with surrogate escapes


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def png_claiming(path: Path, width: int = 60000, height: int = 60000) -> Path:
    """An 8-bit RGB PNG whose header claims ``width`` x ``height`` but holds one row of pixel data."""
    path.write_bytes(_png(width, height, 8, 2, zlib.compress(b"\x00" * 64)))
    return path


def jpeg_claiming(path: Path, width: int = 60000, height: int = 60000) -> Path:
    """A real 8 x 8 JPEG whose frame header (SOF0) is patched to claim ``width`` x ``height``."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 120, 150)).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path


def huge_png(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A real, complete black 1-bit PNG of ``width`` x ``height`` (a few hundred KB on disk, 1.2 GB as RGB)."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row * 1000) for _ in range(height // 1000)) + packer.compress(row * (height % 1000))
    path.write_bytes(_png(width, height, 1, 0, idat + packer.flush()))
    return path


def truncated_png(path: Path) -> Path:
    """The first 300 bytes of a real 64 x 64 noise PNG."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue()[:300])
    return path


def sixteen_bit_png(path: Path, height: int = 12, width: int = 16) -> Path:
    """A 16-bit RGB PNG (encoded in memory: OpenCV never sees the name)."""
    pixels = np.random.default_rng(1).integers(0, 65536, (height, width, 3), dtype=np.uint16)
    path.write_bytes(cv2.imencode(".png", pixels)[1].tobytes())
    return path


def truncated_sixteen_bit_png(path: Path) -> Path:
    """The first half of a real 16-bit PNG (read by OpenCV, whose libpng would print its own complaint)."""
    data = sixteen_bit_png(path, 64, 64).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def fifo(path: Path) -> Path:
    """A named pipe: opening it for reading blocks until a writer comes, which none will."""
    os.mkfifo(path)
    return path
