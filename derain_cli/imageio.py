"""Reading and writing images as people have them: EXIF orientation, grayscale, palette, alpha, 16-bit.

Pixels travel as float32 RGB in [0, 1] so 8-bit and 16-bit images share one path; the original
bit depth, alpha channel and grayscale-ness are kept so the output looks like the input.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from derain_cli.errors import DerainError, UsageError, one_line
from derain_cli.fsutil import atomic_output

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "webp": ".webp"}
_SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")
# Images are refused above Pillow's own hard limit (2 x Image.MAX_IMAGE_PIXELS by default), from the
# header, before any decoding: 179 megapixels (a 151 MP medium-format photo fits) are ~2 GB as float RGB.
MAX_PIXELS = 178_956_970
# Largest width and height each output format can hold (WebP's is 2^14 - 1, JPEG's 2^16 - 1).
_FORMAT_LIMITS = {".webp": 16383, ".jpg": 65535, ".jpeg": 65535}
_TRANSPOSED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


@dataclass
class LoadedImage:
    """An image ready for deraining: float RGB in [0, 1] plus what is needed to write it back alike."""

    rgb: np.ndarray  # H x W x 3 float32 in [0, 1]
    alpha: np.ndarray | None  # H x W, same scale as rgb, passed through unchanged
    bit_depth: int  # 8 or 16
    grayscale: bool
    frames: int = 1  # frames or pages in the file (animated GIF/WebP, multi-page TIFF); only the first is read


def _unit_range(data: np.ndarray) -> np.ndarray:
    """16-bit or floating-point samples as float32 in [0, 1] (float TIFFs hold [0, 1]; NaN becomes 0)."""
    if data.dtype == np.uint16:
        return data.astype(np.float32) / 65535.0
    return np.clip(np.nan_to_num(data.astype(np.float32)), 0.0, 1.0)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, read by Python (OpenCV never sees a path: non-UTF-8 names crash it).

    Opened without blocking and refused unless regular, so a FIFO or device named ``x.png`` cannot hang a batch.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DerainError(f"{path}: file not found") from None
    except OSError as exc:
        raise DerainError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise DerainError(f"{path}: is a folder, not an image")
        if not stat.S_ISREG(mode):
            raise DerainError(f"{path}: not a regular file (a FIFO, socket or device); skipped")
        try:
            return handle.read()
        except OSError as exc:
            raise DerainError(f"{path}: cannot read ({exc.strerror or exc})") from None


@contextmanager
def _decoding(path: Path) -> Iterator[None]:
    """Any failure of the decoders on an untrusted file becomes one line naming it; their warnings are silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        except DerainError:
            raise
        except Image.DecompressionBombError:
            raise DerainError(f"{path}: image of more than {MAX_PIXELS:,} pixels (the limit); not read") from None
        except UnidentifiedImageError:
            raise DerainError(f"{path}: not an image file (unrecognised format)") from None
        except MemoryError:
            raise DerainError(f"{path}: not enough memory to decode this image") from None
        except Exception as exc:  # decoders raise many types (OSError, SyntaxError, ValueError, cv2.error, ...)
            raise DerainError(f"{path}: unreadable or truncated image ({one_line(exc)})") from None


@contextmanager
def _opened(path: Path, data: bytes) -> Iterator[Image.Image]:
    with _decoding(path), Image.open(io.BytesIO(data)) as header:
        width, height = header.size
        if width * height > MAX_PIXELS:
            raise DerainError(f"{path}: {width}x{height} image has more than {MAX_PIXELS:,} pixels (the limit); not read")
        yield header


def open_image(path: str | Path) -> AbstractContextManager[Image.Image]:
    """The image at ``path`` as a Pillow image whose header is read and size checked, pixels not decoded yet.

    Every command reads images through here (bytes read by Python, the size guard before any decoding);
    decoding inside the block fails with one line naming the file.
    """
    return _opened(Path(path), _read_bytes(Path(path)))


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) as displayed (EXIF rotation applied), read from the header only."""
    with open_image(path) as image:
        width, height = image.size
        if image.getexif().get(0x0112) in _TRANSPOSED:
            width, height = height, width
    return width, height


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")


def _pillow_reads(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.open(io.BytesIO(data)).close()
        return True
    except Exception:  # Pillow raises several types on formats it does not know
        return False


def _needs_opencv(header: Image.Image, data: bytes) -> bool:
    """16 bits per sample in a PNG (IHDR bit depth), 16-bit or floating-point samples in a TIFF: Pillow
    would drop colour 16-bit to 8 bits and read float TIFFs as 0..255."""
    if header.format == "PNG":
        return data[24] == 16
    if header.format == "TIFF":
        bits = np.atleast_1d(header.tag_v2.get(258, 8))
        return 16 in bits or header.tag_v2.get(339) == 3 or bool(np.any(bits >= 32))
    return False


def _decode_with_opencv(data: bytes, frames: int) -> LoadedImage:
    """16-bit and float images, written back as 16-bit."""
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype not in (np.uint16, np.float32, np.float64):
        raise ValueError("OpenCV could not decode it as 16-bit or float")
    pixels = _unit_range(decoded)
    if pixels.ndim == 2:
        return LoadedImage(np.repeat(pixels[..., None], 3, axis=2), None, 16, True, frames)
    alpha = pixels[..., 3].copy() if pixels.shape[2] == 4 else None
    rgb = np.ascontiguousarray(pixels[..., 2::-1]) if pixels.shape[2] >= 3 else np.repeat(pixels[..., :1], 3, 2)
    return LoadedImage(rgb, alpha, 16, pixels.shape[2] < 3, frames)


def read_image(path: str | Path) -> LoadedImage:
    """Read any image Pillow (or OpenCV for 16-bit and float) understands; raises DerainError naming the file."""
    path = Path(path)
    data = _read_bytes(path)
    if data[:4] in _TIFF_MAGIC and not _pillow_reads(data):
        with _decoding(path):  # e.g. RGB float TIFFs, which Pillow cannot open: OpenCV's own size limit applies
            return _decode_with_opencv(data, 1)
    with _opened(path, data) as header:
        frames = getattr(header, "n_frames", 1)
        if _needs_opencv(header, data):
            header.verify()  # chunks complete and their CRCs right, checked quietly: libpng prints its complaints
            return _decode_with_opencv(data, frames)
        header.load()
        image = ImageOps.exif_transpose(header)
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        grey = np.asarray(image, dtype=np.float32) / (1.0 if image.mode == "F" else 65535.0)
        grey = np.clip(np.nan_to_num(grey), 0.0, 1.0)
        return LoadedImage(np.repeat(grey[..., None], 3, axis=2), None, 16, True, frames)
    grayscale = image.mode in ("1", "L", "LA")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    rgba = np.asarray(image.convert("RGBA" if has_alpha else "RGB"), dtype=np.float32) / 255.0
    alpha = rgba[..., 3].copy() if has_alpha else None
    return LoadedImage(np.ascontiguousarray(rgba[..., :3]), alpha, 8, grayscale, frames)


def output_suffix(fmt: str) -> str:
    """The file suffix for ``--format`` (png, jpg, webp)."""
    try:
        return FORMATS[fmt.lower()]
    except KeyError:
        raise UsageError(f"unknown output format {fmt!r}; use png, jpg or webp") from None


def _quantise(values: np.ndarray, bit_depth: int) -> np.ndarray:
    peak = 65535.0 if bit_depth == 16 else 255.0
    return np.rint(np.clip(values, 0.0, 1.0) * peak).astype(np.uint16 if bit_depth == 16 else np.uint8)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float values in [0, 1] -> uint8, clipped and rounded (as a saved 8-bit image holds them)."""
    return _quantise(rgb, 8)


def read_rgb8(path: str | Path) -> np.ndarray:
    """An image as H x W x 3 uint8 RGB (16-bit images rounded to 8 bits)."""
    return to_uint8(read_image(path).rgb)


def check_output_size(path: str | Path, width: int, height: int) -> None:
    """Refuse, before any work, an image too large for the format of ``path`` (WebP holds at most 16383 px a side)."""
    limit = _FORMAT_LIMITS.get(Path(path).suffix.lower())
    if limit is not None and max(width, height) > limit:
        raise DerainError(
            f"{path}: a {width}x{height} image does not fit the {Path(path).suffix} format "
            f"(at most {limit} px a side); choose another format, e.g. png"
        )


def _encode(image: LoadedImage, suffix: str, quality: int) -> bytes:
    """The file's bytes in the format of ``suffix`` (16 bits with OpenCV's encoder, which never sees a path)."""
    keep_alpha = image.alpha is not None and suffix in (".png", ".webp", ".tif", ".tiff")
    if suffix in _SIXTEEN_BIT_SUFFIXES and image.bit_depth == 16:
        channels = image.rgb[..., ::-1]
        if image.grayscale and not keep_alpha:
            channels = channels.mean(axis=2, keepdims=True)
        if keep_alpha:
            channels = np.concatenate([channels, image.alpha[..., None]], axis=2)
        ok, encoded = cv2.imencode(suffix, _quantise(channels, 16))
        if not ok:
            raise ValueError("OpenCV could not encode it")
        return encoded.tobytes()
    pil = Image.fromarray(_quantise(image.rgb, 8), "RGB")
    if image.grayscale:
        pil = pil.convert("L")
    if keep_alpha:
        pil.putalpha(Image.fromarray(_quantise(image.alpha, 8), "L"))
    options = {"quality": quality} if suffix in (".jpg", ".jpeg", ".webp") else {}
    buffer = io.BytesIO()
    pil.save(buffer, format=Image.registered_extensions()[suffix], **options)
    return buffer.getvalue()


def write_image(path: str | Path, image: LoadedImage, quality: int = 95, overwrite: bool = False) -> Path:
    """Write ``image`` atomically; the format comes from the suffix. 16-bit survives only in PNG/TIFF.

    An existing ``path`` is replaced only with ``overwrite`` (see ``fsutil.atomic_output``).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    height, width = image.rgb.shape[:2]
    check_output_size(path, width, height)
    try:
        data = _encode(image, suffix, quality)
    except (KeyError, ValueError, OSError) as exc:
        raise DerainError(f"{path}: cannot write this image as {suffix or 'a file without suffix'} ({exc})") from None
    with atomic_output(path, overwrite) as tmp:
        tmp.write_bytes(data)
    return path


def write_rgb8(path: str | Path, rgb: np.ndarray, overwrite: bool = True) -> Path:
    """Write an H x W x 3 uint8 image (8-bit, no metadata) as :func:`read_rgb8` gives it back: outputs,
    report images, previews, rendered pairs; replaces an existing file unless ``overwrite`` is False."""
    return write_image(path, LoadedImage(rgb.astype(np.float32) / 255.0, None, 8, False), overwrite=overwrite)
