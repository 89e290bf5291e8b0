"""Realistic rain synthesis: streaks at several depths, rain accumulation (veil), blur, lens drops, noise."""

from derain_cli.synth.params import PRESETS, RainParams, draw_params
from derain_cli.synth.render import RainRenderer, render_rain

__all__ = ["PRESETS", "RainParams", "RainRenderer", "draw_params", "render_rain"]
