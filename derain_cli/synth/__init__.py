"""Realistic rain synthesis: streaks at several depths, rain accumulation (veil), blur, lens drops, noise."""

from __future__ import annotations

from typing import TYPE_CHECKING

from derain_cli.lazy import lazy_exports

if TYPE_CHECKING:
    from derain_cli.synth.params import PRESETS, RainParams, draw_params
    from derain_cli.synth.render import RainRenderer, render_rain

__all__ = ["PRESETS", "RainParams", "RainRenderer", "draw_params", "render_rain"]
__getattr__ = lazy_exports(__name__, {
    "PRESETS": "derain_cli.synth.params", "RainParams": "derain_cli.synth.params",
    "draw_params": "derain_cli.synth.params", "RainRenderer": "derain_cli.synth.render",
    "render_rain": "derain_cli.synth.render",
})  # fmt: skip
