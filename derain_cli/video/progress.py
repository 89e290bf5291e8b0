"""The progress hooks of :func:`derain_cli.video.derain_video` (apart, so a display needs neither torch nor PyAV)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from derain_cli.video.source import VideoInfo


class VideoProgress:
    """Hooks for a progress display: subclass and override what you need (these do nothing)."""

    def start(self, info: VideoInfo) -> None:
        """The input is open; ``info.frames`` is the expected frame count (None if unknown)."""

    def frame(self) -> None:
        """One more frame was encoded."""

    def stopping(self) -> None:
        """Ctrl-C was pressed: the run ends once the forward pass under way is done."""
