"""Rain parameters: one image's concrete values (:class:`RainParams`) and the presets they are drawn from.

Sizes (streak length and width, lens-drop radius) are in pixels of an image whose short side is
:data:`REFERENCE_SIDE` pixels and scale with the image, so a preset looks the same on a 320-pixel
crop and on a 4K frame. Densities are streaks per 100 x 100 pixels of that reference image.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from derain_cli.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

REFERENCE_SIDE = 480
TRANSMISSIONS = ("uniform", "gradient", "depth")


@dataclass(frozen=True)
class RainParams:
    """Everything that decides one rendering; with ``seed`` it reproduces the image exactly."""

    layers: int = 3  # depth layers of streaks, near to far
    density: float = 6.0  # streaks per 100 x 100 reference pixels, all layers together
    length: float = 30.0  # streak length of the nearest layer (reference pixels)
    width: float = 1.2  # streak width of the nearest layer (reference pixels)
    angle: float = 0.0  # mean fall direction, degrees from vertical (positive leans right, "\")
    angle_jitter: float = 3.0  # per-streak standard deviation of the angle, degrees
    brightness: float = 0.5  # peak opacity of the nearest streaks, 0..1
    defocus: float = 1.0  # extra blur of the nearest layer (reference pixels, Gaussian sigma)
    veil: float = 0.2  # 1 - mean transmission: rain accumulation, 0 = none
    transmission: str = "gradient"  # uniform | gradient (top farther) | depth (vertical position + dark channel)
    airlight: tuple[float, float, float] | None = None  # A in O = T(B+S) + (1-T)A; None: from the image's sky
    blur: float = 0.5  # background blur (water film, defocus), reference pixels, Gaussian sigma
    desaturation: float = 0.1  # 0..1, extra loss of colour beyond what the veil causes
    exposure: float = 1.0  # mean brightness after the camera's auto-exposure, relative to the clean scene
    drops: int = 0  # water drops on the lens
    noise: float = 0.005  # sensor noise standard deviation (values in 0..1)
    jpeg: int = 0  # JPEG re-compression quality (0 = none)
    seed: int = 0  # seed of the streak positions, drops and noise

    def __post_init__(self) -> None:
        checks = {
            "layers": 1 <= self.layers <= 8, "density": 0 <= self.density <= 200, "length": 0 < self.length <= 400,
            "width": 0 < self.width <= 20, "angle": -80 <= self.angle <= 80, "angle_jitter": 0 <= self.angle_jitter <= 45,
            "brightness": 0 <= self.brightness <= 1, "defocus": 0 <= self.defocus <= 20, "veil": 0 <= self.veil < 1,
            "blur": 0 <= self.blur <= 20, "desaturation": 0 <= self.desaturation <= 1,
            "exposure": 0.5 <= self.exposure <= 1.5, "drops": 0 <= self.drops <= 200,
            "noise": 0 <= self.noise <= 0.5, "jpeg": self.jpeg == 0 or 1 <= self.jpeg <= 100,
            "transmission": self.transmission in TRANSMISSIONS,
        }  # fmt: skip
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise UsageError(f"rain parameter --{bad[0].replace('_', '-')} out of range: {getattr(self, bad[0])!r}")
        if self.airlight is not None and (len(self.airlight) != 3 or not all(0 <= a <= 1 for a in self.airlight)):
            raise UsageError(f"rain parameter --airlight must be three values in 0..1, got {self.airlight!r}")

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.airlight is not None:
            data["airlight"] = [round(float(a), 4) for a in self.airlight]
        return data


@dataclass(frozen=True)
class Preset:
    """Ranges each image's parameters are drawn from (uniformly; integers inclusive)."""

    name: str
    ranges: dict[str, tuple[float, float]]
    transmissions: tuple[str, ...] = TRANSMISSIONS
    fixed: dict[str, Any] = field(default_factory=dict)

    def draw(self, rng: np.random.Generator, seed: int, overrides: dict[str, Any] | None = None) -> RainParams:
        """One image's parameters; ``overrides`` (the user's --angle, --veil, ...) replace drawn values."""
        values: dict[str, Any] = dict(self.fixed)
        for name, (low, high) in self.ranges.items():
            if name in ("layers", "drops", "jpeg"):
                values[name] = int(rng.integers(int(low), int(high) + 1))
            else:
                values[name] = round(float(rng.uniform(low, high)), 4)
        values["transmission"] = str(rng.choice(self.transmissions))
        values.update(overrides or {})
        return RainParams(**values, seed=seed)


# Ranges fitted so the rendered statistics of drizzle, light, heavy and veil together cover those of the
# real GT-RAIN pairs (benchmarks/synth/synth_realism.py; RESULTS.md, "Rain synthesis (issue 14)"): measured
# at 480 px, real rain lowers contrast 2-16 %, saturation 2-36 % and fine detail 5-29 % (little blur),
# with thin, sparse streaks; the Rain100H-like "storm" keeps the dense bright streaks of synthetic sets.
PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("drizzle", {
            "layers": (2, 3), "density": (2, 6), "length": (6, 18), "width": (0.6, 1.0), "angle": (-15, 15),
            "angle_jitter": (1, 4), "brightness": (0.12, 0.3), "defocus": (0.3, 1.0), "veil": (0.0, 0.02),
            "blur": (0.0, 0.35), "desaturation": (0.0, 0.05), "exposure": (0.97, 1.03), "noise": (0.002, 0.008), "jpeg": (88, 98),
        }),  # fmt: skip
        Preset("light", {
            "layers": (2, 3), "density": (4, 10), "length": (12, 35), "width": (0.7, 1.4), "angle": (-20, 20),
            "angle_jitter": (1, 5), "brightness": (0.2, 0.45), "defocus": (0.5, 1.5), "veil": (0.0, 0.05),
            "blur": (0.0, 0.5), "desaturation": (0.0, 0.12), "exposure": (0.96, 1.04), "noise": (0.002, 0.01), "jpeg": (85, 98),
        }),  # fmt: skip
        Preset("heavy", {
            "layers": (3, 4), "density": (8, 20), "length": (20, 60), "width": (0.9, 2.0), "angle": (-25, 25),
            "angle_jitter": (2, 7), "brightness": (0.3, 0.65), "defocus": (0.8, 2.0), "veil": (0.03, 0.1),
            "blur": (0.2, 0.7), "desaturation": (0.03, 0.18), "drops": (0, 3), "exposure": (0.95, 1.05), "noise": (0.003, 0.012),
            "jpeg": (80, 95),
        }),  # fmt: skip
        Preset("storm", {
            "layers": (3, 5), "density": (15, 35), "length": (30, 90), "width": (1.2, 3.0), "angle": (-30, 30),
            "angle_jitter": (2, 8), "brightness": (0.45, 0.85), "defocus": (1.0, 2.5), "veil": (0.06, 0.2),
            "blur": (0.5, 1.5), "desaturation": (0.05, 0.3), "drops": (0, 6), "exposure": (0.94, 1.08), "noise": (0.004, 0.02),
            "jpeg": (65, 92),
        }),  # fmt: skip
        Preset("streaks", {
            "layers": (1, 3), "density": (3, 14), "length": (10, 45), "width": (0.6, 1.6), "angle": (-20, 20),
            "angle_jitter": (1, 5), "brightness": (0.15, 0.5), "defocus": (0.3, 1.2), "veil": (0.0, 0.0),
            "blur": (0.0, 0.0), "desaturation": (0.0, 0.0), "exposure": (1.0, 1.0), "noise": (0.0, 0.006),
            "jpeg": (85, 100),
        }),  # fmt: skip
        Preset("veil", {
            "layers": (1, 2), "density": (0.5, 4), "length": (8, 30), "width": (0.6, 1.2), "angle": (-15, 15),
            "angle_jitter": (1, 4), "brightness": (0.1, 0.3), "defocus": (0.5, 1.5), "veil": (0.04, 0.12),
            "blur": (0.1, 0.5), "desaturation": (0.1, 0.35), "exposure": (0.95, 1.05), "noise": (0.003, 0.012),
            "jpeg": (85, 97),
        }),  # fmt: skip
    )
}

# The mixture `derain train --dataset synth:DIR` draws from when no preset is named: the real-rain presets,
# dense streaks so the streak skill of the starting checkpoints is kept, and streaks alone (no veil, no
# blur) so a model learns to leave contrast and sharpness alone where the rain did not take them.
MIXTURE = ("drizzle", "light", "light", "heavy", "veil", "veil", "storm", "streaks", "streaks")


def preset(name: str) -> Preset:
    """The preset called ``name``; ``mix`` is not a preset (see :data:`MIXTURE`)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UsageError(f"unknown rain preset {name!r}; known: {', '.join(PRESETS)}, mix") from None


def draw_params(preset_name: str, seed: int, overrides: dict[str, Any] | None = None) -> RainParams:
    """Parameters for one image, a pure function of (preset, seed, overrides); ``mix`` picks a preset too."""
    import numpy as np  # here: `derain synth --help` lists PRESETS without loading numpy

    rng = np.random.default_rng([seed, 0x5EED])
    name = str(rng.choice(MIXTURE)) if preset_name == "mix" else preset_name
    return preset(name).draw(rng, seed, overrides)
