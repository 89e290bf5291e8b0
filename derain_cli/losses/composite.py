"""A weighted sum of named loss terms, each optionally switched on from a given epoch."""

from __future__ import annotations

import math

from dataclasses import dataclass

from torch import Tensor, nn

from derain_cli.errors import UsageError
from derain_cli.losses.base import LossBatch

# The SAPNet paper: -SSIM + 0.1 PCL + 0.1 LPIPS + 0.1 segmentation (UBS) loss.
PAPER_WEIGHTS = {"ssim": 1.0, "pcl": 0.1, "lpips": 0.1, "ubs": 0.1}
# Terms beyond the paper, with their default weights: L1 keeps colour and brightness (which SSIM
# hardly constrains), what veil removal on real rain is about; grad (image gradients) keeps texture
# and tone (pooled colour) forbids tone shifts, the two faults seen on real rain (issue 25).
DEFAULT_WEIGHTS = {**PAPER_WEIGHTS, "l1": 1.0, "grad": 1.0, "tone": 1.0}


def parse_losses(spec: str) -> dict[str, float]:
    """``"ssim,pcl:0.2"`` -> ``{"ssim": 1.0, "pcl": 0.2}``; a name without weight takes the paper's."""
    terms: dict[str, float] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, _, weight = item.partition(":")
        name = name.strip().lower()
        if name not in DEFAULT_WEIGHTS:
            raise UsageError(f"--losses: unknown loss {name!r}; known: {', '.join(DEFAULT_WEIGHTS)}")
        try:
            terms[name] = float(weight) if weight else DEFAULT_WEIGHTS[name]
        except ValueError:
            raise UsageError(f"--losses: weight of {name!r} is not a number: {weight!r}") from None
        check_loss_weight(f"--losses: weight of {name!r}", terms[name])
    return terms


def check_loss_weight(what: str, weight: float) -> None:
    """A loss weight is finite and not negative: a negative one maximises its loss, NaN poisons every step."""
    if not (math.isfinite(weight) and weight >= 0):
        raise UsageError(f"{what} must be a finite number >= 0, got {weight}")


@dataclass
class LossTerm:
    """``weight * module(batch)`` from epoch ``start_epoch`` on (0-based)."""

    name: str
    weight: float
    module: nn.Module
    start_epoch: int = 0


class CompositeLoss(nn.Module):
    """``forward(batch, epoch)`` -> (total, {term name: unweighted value, detached}) over the active terms.

    A term's module returns a scalar, or (scalar, {detail name: value}) whose details are logged too.
    """

    def __init__(self, terms: list[LossTerm]) -> None:
        super().__init__()
        if not terms:
            raise UsageError("no loss terms: pass at least one with --losses")
        self.terms = terms
        self.modules_by_name = nn.ModuleDict({term.name: term.module for term in terms})

    def forward(self, batch: LossBatch, epoch: int = 0) -> tuple[Tensor, dict[str, Tensor]]:
        total: Tensor | None = None
        logged: dict[str, Tensor] = {}
        for term in self.terms:
            if epoch < term.start_epoch:
                continue
            value = term.module(batch)
            if isinstance(value, tuple):
                value, details = value
                logged.update({k: v.detach() for k, v in details.items()})
            logged[term.name] = value.detach()
            total = term.weight * value if total is None else total + term.weight * value
        if total is None:
            raise UsageError("no loss term is active at this epoch")
        return total, logged
