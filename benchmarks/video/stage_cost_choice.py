"""A cheaper temporal stage, tried 2026-12-05 (docs/video.md): variants that change its output, scored on cached
frame-by-frame outputs of validation videos (never a test set) against the shipped stage. The flow: DIS's
MEDIUM preset on full frames (shipped) against its FAST preset, MEDIUM on half-size frames and MEDIUM
lightened (the stage spends most of its time on a new frame's six flows, about 0.09 of 0.15 s a frame at
640x480 on 2 cores, which keeps `--model lite` below 5 frames/s end to end, issue 26). The third round,
the agreement check on the neighbour's warped luma instead of its warped colour frame, passed and ships; it
was scored with this script at commit 9640718 (``--variants medium luma-agreement``), where ``medium`` was
the stage as shipped before it (the rounds before it too). The fourth, flows chained from consecutive frames'
(``composed``, ``composed-refined``), runs in the streamed stage (``streamed``: the shipped stage streamed, the
same scores as ``medium``); both lost 0.3-0.6 dB on the tuning videos.

Scored for the two models users run in video: `lite` under the stage, and the video default (s2vd and
sapnet-realrain, each under the stage, their frames averaged). The warping error is the metric's own (MEDIUM
flow on the clean frames) whatever flow the stage uses.

    python -m benchmarks.video.temporal_choice SET --model lite --radius 3        # fills each model's cache
    python -m benchmarks.video.stage_cost_choice SET [--variants medium fast medium-half ...]

The rule, fixed before any candidate's number was seen: a candidate replaces the shipped stage if on the tuning
videos and the train-split videos, for both models, its mean PSNR-Y is at most 0.05 dB lower, SSIM-Y at
most 0.002 lower and the warping error at most 5 % higher, and on the rain-free tuning videos its PSNR-Y
at most 0.05 dB lower; of those that pass, the faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import cv2
import numpy as np

from benchmarks.video.ensemble_choice import shipped_stage
from benchmarks.video.temporal_choice import cache_parser, cached, loaded, measure, print_table, rounded_mean
from derain_cli.video.flow import PairFlow, dis_flow, warp
from derain_cli.video.processors import run_processor
from derain_cli.video.temporal import TemporalFusion, _Held

Flow = Callable[[np.ndarray, np.ndarray], np.ndarray]


def preset_flow(preset: int, **settings: int) -> Flow:
    """DIS with another preset, and settings changed from it (``PatchStride=4`` calls ``setPatchStride(4)``), on the full frames."""

    def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        engine = cv2.DISOpticalFlow_create(preset)
        for name, value in settings.items():
            getattr(engine, f"set{name}")(value)
        return engine.calc(a, b, None)

    return flow


def half_size_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MEDIUM DIS on frames halved (area average, which also thins streaks), the flow brought back to full size."""
    height, width = a.shape
    small = (max(1, width // 2), max(1, height // 2))
    flow = dis_flow(cv2.resize(a, small, interpolation=cv2.INTER_AREA), cv2.resize(b, small, interpolation=cv2.INTER_AREA))
    full = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    full[..., 0] *= width / small[0]
    full[..., 1] *= height / small[1]
    return full



@contextmanager
def stage_flow(flow: Flow) -> Iterator[None]:
    """The stage's flows (PairFlow.both_ways) from ``flow``; the warping error's (PairFlow()) stay DIS MEDIUM."""
    original = PairFlow.both_ways

    def both_ways(cls: type[PairFlow], a: np.ndarray, b: np.ndarray) -> tuple[PairFlow, PairFlow]:
        forward, backward = flow(a, b), flow(b, a)
        return cls(a, b, (forward, backward)), cls(b, a, (backward, forward))

    PairFlow.both_ways = classmethod(both_ways)  # type: ignore[method-assign]
    try:
        yield
    finally:
        PairFlow.both_ways = original  # type: ignore[method-assign]


class Replay:
    """A frame processor returning a model's cached outputs in order, so that the streamed stage
    (TemporalFusion, what `derain video` runs) can be scored on them."""

    window = 1

    def __init__(self, derained: list[np.ndarray]) -> None:
        self._frames = iter(derained)

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        return [next(self._frames)]

    def finish(self) -> list[np.ndarray]:
        return []


def streamed_stage(rainy: list[np.ndarray], derained: list[np.ndarray]) -> list[np.ndarray]:
    """The stage as `derain video` streams it, on one model's cached frames (the same output as shipped_stage)."""
    return run_processor(TemporalFusion(Replay(derained)), rainy)


def refined(a: np.ndarray, b: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``flow`` (a -> b) refined by OpenCV's variational refinement at full size, with DIS MEDIUM's settings."""
    engine = cv2.VariationalRefinement_create()
    engine.setAlpha(20.0), engine.setDelta(5.0), engine.setGamma(10.0)
    engine.setFixedPointIterations(5), engine.setSorIterations(5)
    flow = flow.copy()
    return engine.calc(a, b, flow)


@contextmanager
def composed_flows(refine: bool = False) -> Iterator[None]:
    """The stage's flows beyond distance 1 chained from the distance-1 flows instead of computed by DIS: two DIS
    flows a new frame instead of 2 x radius. F(a -> c)(x) = F(a -> b)(x) + F(b -> c)(x + F(a -> b)(x)), sampled
    bilinearly; the pair's consistency check and agreement check run on the chained flows as on computed ones."""
    original = TemporalFusion.__dict__["_link"]  # the staticmethod itself, to restore

    def link(earlier: list[_Held], new: _Held) -> None:
        if earlier:
            forward, backward = PairFlow.both_ways(earlier[0].grey, new.grey)
            earlier[0].ahead[1] = (forward, backward)
            to_new, from_new = forward.a_to_b, backward.a_to_b  # between the frame after `old` and the new one
            for distance, old in enumerate(earlier[1:], start=2):
                step, step_back = old.ahead[1]  # old -> old + 1, old + 1 -> old
                to_new = step.a_to_b + warp(to_new, step.a_to_b)
                from_new = from_new + warp(step_back.a_to_b, from_new)
                if refine:
                    to_new, from_new = refined(old.grey, new.grey, to_new), refined(new.grey, old.grey, from_new)
                old.ahead[distance] = (PairFlow(old.grey, new.grey, (to_new, from_new)), PairFlow(new.grey, old.grey, (from_new, to_new)))

    TemporalFusion._link = staticmethod(link)  # type: ignore[method-assign]
    try:
        yield
    finally:
        TemporalFusion._link = original  # type: ignore[method-assign]


VARIANTS: dict[str, Callable[[], AbstractContextManager[None]]] = {
    "medium": nullcontext,  # the shipped stage
    "fast": lambda: stage_flow(preset_flow(cv2.DISOPTICAL_FLOW_PRESET_FAST)),
    "medium-half": lambda: stage_flow(half_size_flow),
    # the second round: MEDIUM with its costliest parts lightened (docs/video.md: their CPU and scores)
    "medium-stride4": lambda: stage_flow(preset_flow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, PatchStride=4)),
    "medium-no-refine": lambda: stage_flow(preset_flow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, VariationalRefinementIterations=0)),
    "medium-stride4-refine2": lambda: stage_flow(
        preset_flow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, PatchStride=4, VariationalRefinementIterations=2)
    ),
    # the fourth round: DIS only between consecutive frames, farther flows chained from them (in the streamed
    # stage; "streamed" is the shipped stage streamed, the same output as "medium")
    "streamed": nullcontext,
    "composed": composed_flows,
    "composed-refined": lambda: composed_flows(refine=True),
}
STREAMED = {"streamed", "composed", "composed-refined"}


def main() -> None:
    parser = cache_parser(__doc__)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float, float]]] = {}
    seconds: dict[str, float] = {}
    for seq, rainy, clean in loaded(args.set):
        lite, s2vd, sapnet = (cached(args.cache, model, args.set, seq) for model in ("lite", "s2vd", "sapnet-realrain"))
        for name in args.variants:
            began = time.perf_counter()
            stage = streamed_stage if name in STREAMED else shipped_stage
            with VARIANTS[name]():
                outputs = {"lite": stage(rainy, lite), "default": rounded_mean([stage(rainy, s2vd), stage(rainy, sapnet)])}
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - began
            for model, out in outputs.items():
                rows.setdefault(f"{model}, {name}", []).append(measure(out, clean, rainy=rainy))
        print(seq, {label: tuple(round(v, 3) for v in values[-1]) for label, values in rows.items()}, flush=True)
    print_table(rows)
    for name, total in seconds.items():
        print(f"{name}: {total:.0f} s for the three models' stages (a busy machine's times: not a speed measure)")


if __name__ == "__main__":
    main()
