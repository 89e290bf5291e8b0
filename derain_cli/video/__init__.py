"""Deraining videos: decode with PyAV, derain in batches, encode with the input's timing, rotation and audio."""

from derain_cli.video.layout import Derained, FrameLayout, SideBySide
from derain_cli.video.pipeline import VideoOptions, VideoOutput, VideoProgress, VideoReport, derain_video
from derain_cli.video.sink import EncodeSettings
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
