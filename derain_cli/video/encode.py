"""Encoder settings of video outputs: which FFmpeg encoder and at what quality."""

from __future__ import annotations

from dataclasses import dataclass

from derain_cli.errors import UsageError

DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 18
# Encoders whose quality is set by a constant rate factor (lower = better, larger files).
CRF_CODECS = frozenset({"libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"})


@dataclass(frozen=True)
class EncodeSettings:
    """``codec``: an FFmpeg video encoder name; None = libx264, or the container's own default when
    it cannot hold H.264 (VP9 for .webm). ``crf`` applies to the encoders in ``CRF_CODECS``."""

    codec: str | None = None
    crf: int = DEFAULT_CRF

    def check(self) -> None:
        """Refuse an unknown encoder or a CRF out of range (UsageError)."""
        if not 0 <= self.crf <= 63:
            raise UsageError(f"--crf must be between 0 and 63, got {self.crf}")
        if self.codec is None:
            return
        import av  # here: the CLI reads DEFAULT_CRF for its help without loading FFmpeg

        try:
            kind = av.Codec(self.codec, "w").type
        except ValueError:
            raise UsageError(f"unknown video encoder {self.codec!r} (try libx264, libx265, libvpx-vp9, mpeg4, ffv1)") from None
        if kind != "video":
            raise UsageError(f"{self.codec!r} encodes {kind}, not video")
