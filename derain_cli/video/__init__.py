"""Deraining videos: decode with PyAV, derain in batches, encode with the input's timing, rotation and audio."""

from __future__ import annotations

from typing import TYPE_CHECKING

from derain_cli.lazy import lazy_exports

if TYPE_CHECKING:
    from derain_cli.video.encode import EncodeSettings
    from derain_cli.video.layout import Derained, FrameLayout, SideBySide
    from derain_cli.video.pipeline import VideoOptions, VideoOutput, VideoReport, derain_video
    from derain_cli.video.progress import VideoProgress
    from derain_cli.video.source import VideoInfo

__all__ = [
    "Derained",
    "EncodeSettings",
    "FrameLayout",
    "SideBySide",
    "VideoInfo",
    "VideoOptions",
    "VideoOutput",
    "VideoProgress",
    "VideoReport",
    "derain_video",
]
__getattr__ = lazy_exports(__name__, {
    "Derained": "derain_cli.video.layout", "FrameLayout": "derain_cli.video.layout",
    "SideBySide": "derain_cli.video.layout", "EncodeSettings": "derain_cli.video.encode",
    "VideoOptions": "derain_cli.video.pipeline", "VideoOutput": "derain_cli.video.pipeline",
    "VideoReport": "derain_cli.video.pipeline", "derain_video": "derain_cli.video.pipeline",
    "VideoProgress": "derain_cli.video.progress", "VideoInfo": "derain_cli.video.source",
})  # fmt: skip
