"""The heavy-rain route: hand an image to a second network when the first one removes a lot of rain.

A model that is faithful on real rain and on rain-free photos (``sapnet-realrain-v3``) removes little
of dense synthetic-style downpours (Rain100H), while a model trained for those flattens real photos.
Both live in one default by routing on a measure the first network already gives: its **rain
strength**, the mean over the image of what it removed that brightened the photo (the positive part
of the input's Y minus the output's Y, in grey levels of MATLAB's Y). It is 0.6-4.3 on 100 real rainy
photos (0.7-5.4 on 55 more), at most 4.9 on rain-free photos and on ``derain synth``'s presets, and 5.6-75 on RainTrainH
pairs (docs/real-rain.md). Between ``low`` and ``high`` the output moves linearly from the first
network's to the second's; below ``low`` the second network never runs, so light rain, real rain and
rain-free photos cost one pass and come out exactly as the first network alone makes them.

The decision is per image, on the whole image (after tiling), so tiles never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from torch import Tensor

from derain_cli.errors import DerainError


def rain_strength(rainy: Tensor, derained: Tensor) -> Tensor:
    """Per image of an N x 3 x H x W batch in [0, 1]: the mean of ``max(0, Y(rainy) - Y(derained))``
    in grey levels (rain brightens; what a network darkens or invents is not counted; Y's offset cancels)."""
    from derain_cli.metrics import Y_WEIGHTS  # here: the metrics need OpenCV, which the registry's import of this module does not

    weights = rainy.new_tensor(Y_WEIGHTS.tolist()).view(1, 3, 1, 1)
    removed = ((rainy.float() - derained.float().clamp(0, 1)) * weights).sum(1)
    return removed.clamp_(min=0).mean((1, 2))


@dataclass(frozen=True)
class RainRoute:
    """Route to ``model`` (a weights.toml name) with weight 0 at rain strength ``low``, 1 at ``high``."""

    model: str
    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and 0 <= self.low < self.high <= 255):
            raise DerainError(f"rain route: needs 0 <= low < high <= 255 grey levels, got low {self.low!r}, high {self.high!r}")

    @classmethod
    def from_table(cls, table: Mapping[str, object], source: str) -> RainRoute:
        """A weights.toml ``route = { model = NAME, low = L, high = H }``; anything else is refused naming ``source``."""
        if set(table) != {"model", "low", "high"}:
            raise DerainError(f"{source}: a route needs exactly 'model', 'low' and 'high', got {', '.join(sorted(table)) or 'nothing'}")
        model, low, high = table["model"], table["low"], table["high"]
        if not isinstance(model, str) or not model:
            raise DerainError(f"{source}: route 'model' must be a model name, got {model!r}")
        for key, value in (("low", low), ("high", high)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DerainError(f"{source}: route {key!r} must be a number of grey levels, got {value!r}")
        try:
            return cls(model, float(low), float(high))  # type: ignore[arg-type]
        except DerainError as exc:
            raise DerainError(f"{source}: {exc}") from None

    def weights(self, rainy: Tensor, derained: Tensor) -> Tensor:
        """Per image: the second network's share of the output, in [0, 1]."""
        return self.share(rain_strength(rainy, derained))

    def share(self, strength: Tensor) -> Tensor:
        """The second network's share at a measured rain ``strength`` (the ramp from ``low`` to ``high``)."""
        return ((strength - self.low) / (self.high - self.low)).clamp(0, 1)
