"""Reading and writing images as people have them: EXIF orientation, grayscale, palette, alpha, 16-bit.

Pixels travel as float32 RGB in [0, 1] so 8-bit and 16-bit images share one path; the original
bit depth, alpha channel and grayscale-ness are kept so the output looks like the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from derain_cli.errors import DerainError, UsageError
from derain_cli.fsutil import atomic_output

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "webp": ".webp"}
_SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")


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


def _read_sixteen_bit(path: Path) -> LoadedImage | None:
    """Read a 16-bit or float PNG/TIFF with OpenCV (Pillow drops colour 16-bit to 8 bits and reads float
    TIFFs as 0..255); None if neither. Float images are written back as 16-bit."""
    if path.suffix.lower() not in _SIXTEEN_BIT_SUFFIXES:
        return None
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None or data.dtype not in (np.uint16, np.float32, np.float64):
        return None
    pixels = _unit_range(data)
    alpha = None
    if pixels.ndim == 2:
        return LoadedImage(np.repeat(pixels[..., None], 3, axis=2), None, 16, True)
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3].copy()
    rgb = np.ascontiguousarray(pixels[..., 2::-1]) if pixels.shape[2] >= 3 else np.repeat(pixels[..., :1], 3, 2)
    return LoadedImage(rgb, alpha, 16, pixels.shape[2] < 3)


def read_image(path: str | Path) -> LoadedImage:
    """Read any image Pillow (or OpenCV for 16-bit) understands; raises DerainError naming the file."""
    path = Path(path)
    if not path.exists():
        raise DerainError(f"{path}: file not found")
    if path.is_dir():
        raise DerainError(f"{path}: is a folder, not an image")
    try:
        sixteen = _read_sixteen_bit(path)
        if sixteen is not None:
            if path.suffix.lower() in (".tif", ".tiff"):
                sixteen.frames = max(1, cv2.imcount(str(path)))
            return sixteen
        with Image.open(path) as opened:
            frames = getattr(opened, "n_frames", 1)
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except UnidentifiedImageError:
        raise DerainError(f"{path}: not an image file (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DerainError(f"{path}: unreadable or truncated image ({exc})") from None
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


def write_image(path: str | Path, image: LoadedImage, quality: int = 95) -> Path:
    """Write ``image`` atomically; the format comes from the suffix. 16-bit survives only in PNG/TIFF."""
    path = Path(path)
    suffix = path.suffix.lower()
    keep_alpha = image.alpha is not None and suffix in (".png", ".webp", ".tif", ".tiff")
    bit_depth = image.bit_depth if suffix in _SIXTEEN_BIT_SUFFIXES else 8
    with atomic_output(path) as tmp:
        if bit_depth == 16:
            channels = image.rgb[..., ::-1]
            if image.grayscale and not keep_alpha:
                channels = channels.mean(axis=2, keepdims=True)
            if keep_alpha:
                channels = np.concatenate([channels, image.alpha[..., None]], axis=2)
            if not cv2.imwrite(str(tmp), _quantise(channels, 16)):
                raise DerainError(f"{path}: could not write image")
        else:
            pil = Image.fromarray(_quantise(image.rgb, 8), "RGB")
            if image.grayscale:
                pil = pil.convert("L")
            if keep_alpha:
                pil.putalpha(Image.fromarray(_quantise(image.alpha, 8), "L"))
            options = {"quality": quality} if suffix in (".jpg", ".jpeg", ".webp") else {}
            pil.save(tmp, **options)
    return path
