"""Rain on a video: one :class:`RainRenderer` for the whole clip, so the streaks fall from frame to frame.

The rainy clip goes to ``OUT/input/<name>.mp4`` and the clean clip to ``OUT/target/<name>.mp4``, both
decoded once and encoded with the same encoder settings (H.264, ``--crf``), so the pair differs by the
rain only, frame for frame (same count, timestamps, size, colour tags and rotation; the rain is rendered
on the upright picture, so it falls down the screen in portrait clips too). Audio is not copied:
the pair is training/evaluation data, not a film.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import av
import numpy as np

from derain_cli.errors import DerainError
from derain_cli.fsutil import atomic_output
from derain_cli.synth.folder import SynthJob, record
from derain_cli.synth.params import draw_params
from derain_cli.synth.render import RainRenderer
from derain_cli.video.sink import EncodeSettings, VideoSink
from derain_cli.video.source import Frame, open_source


def render_video(
    job: SynthJob, preset: str, overrides: dict[str, Any], encode: EncodeSettings, overwrite: bool = False
) -> dict[str, Any]:  # fmt: skip
    """Render coherent rain on every frame of ``job.source``; writes both clips, returns the synth.jsonl line."""
    params = draw_params(preset, job.seed, overrides)
    with ExitStack() as stack:
        source = stack.enter_context(open_source(job.source))
        info = source.info
        sinks = []
        for path in (job.rainy, job.clean):
            path.parent.mkdir(parents=True, exist_ok=True)
            sink = VideoSink(stack.enter_context(atomic_output(path, overwrite=overwrite)), info, [], encode, label=path)
            stack.callback(sink.close)
            sinks.append(sink)
        turns = round(info.rotation / 90) % 4  # rain falls down the picture as a player shows it
        height, width = (info.width, info.height) if turns % 2 else (info.height, info.width)
        renderer = RainRenderer(height, width, params)
        frames = 0
        for item in source.items():
            if isinstance(item, Frame):
                rainy = np.rot90(renderer.frame(np.ascontiguousarray(np.rot90(item.rgb, turns))), -turns)
                try:
                    sinks[0].write(rainy, item.pts, item.duration)
                    sinks[1].write(item.rgb, item.pts, item.duration)
                except (ValueError, av.FFmpegError) as exc:
                    raise DerainError(f"{job.rainy}: cannot encode ({exc})") from None
                frames += 1
        for sink in sinks:
            sink.finish()
            sink.close()
    return record(job, preset, params, frames=frames, fps=round(float(info.rate), 4))
