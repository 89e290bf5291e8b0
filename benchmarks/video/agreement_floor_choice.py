"""The eleventh round of the temporal stage (docs/video.md, rule fixed before any number): may a neighbour be darker
than frame t's derained luma where frame t keeps a streak? The shipped agreement check uses a neighbour only where
its warped derained luma is within AGREEMENT grey levels of frame t's; the candidates let it be darker down to the
darkest derained luma of frame t in a W x W window (a grey erosion), brighter still within AGREEMENT. W = 1 is the
check shipped until the fifteenth round; "unbounded" lets any darker neighbour pass.
With ``--consensus``, the twelfth round: the reference becomes the median of the neighbours' warped derained luma
(those passing the forward-backward check) only where frame t stands out above it (rain adds light) and that median
is not below frame t's local minimum in a W x W window; elsewhere the shipped check. With ``--tight`` besides, the
thirteenth round: only where at least three quarters of those neighbours are within TIGHT levels of their median.
With ``--matched`` besides, the fourteenth round: the consensus only over neighbours matching frame t around the
pixel (the 5 x 5 median of their absolute luma difference below TIGHT), and only they are used where it switches.
With ``--dilated`` besides, the fifteenth round: frame t must also stand out above the median of those neighbours'
3 x 3 maximum luma (a detail of the scene a neighbour shows a pixel away is not a streak). Its unbounded form ships
since (derain_cli/video/temporal.py): with all four flags the script asserts that it reproduces that stage.
With ``--guarded``, the sixteenth round against it: the previous check within a pixel of the blobs (what survives a
3 x 3 opening) of frame t's stand-out mask over all its neighbours, so a small object the flow missed keeps its corners;
it ships, and the fifteenth round is the shipped check with that guard switched off. (Since then the four-flag
candidate no longer equals the shipped stage: its assertion runs only with the guard switched off.)
With ``--opened``, the seventeenth round (not shipped): the neighbours' match around the pixel measured on 3 x 3 grey
openings of both lumas, over 5 x 5 or 7 x 7.

Scored on cached frame-by-frame outputs of validation videos (never a test set) for `lite` + stage, the video
default (s2vd and sapnet-realrain, each + stage, averaged) and the stage alone on the rainy frames (the identity as
the model: where a model leaves the rain, as on real streaks). The flows are computed once per model and sequence
and shared by the candidates (only the check changes).

    python -m benchmarks.video.temporal_choice SET --model lite --radius 3        # fills each model's cache
    python -m benchmarks.video.agreement_floor_choice SET
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import partial

import cv2
import numpy as np

from benchmarks.video.ensemble_choice import shipped_stage
from benchmarks.video.temporal_choice import cache_parser, cached, loaded, measure, print_table, rounded_mean
from benchmarks.video.temporal_variants import pair_flows
from derain_cli.video.flow import grey
from derain_cli.video import temporal
from derain_cli.video.temporal import AGREEMENT, RADIUS, align, vote

WINDOWS: dict[str, int | None] = {"previous check (W = 1)": 1, "W = 3": 3, "W = 5": 5, "W = 9": 9, "unbounded": None}
# per frame t, per neighbour: (its camera frame warped onto t, its derained luma warped, forward-backward mask)
Prepared = list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]]


def prepare(rainy: list[np.ndarray], greys: list[np.ndarray]) -> Prepared:
    """The stage's alignment of every frame's neighbours (flow on the derained luma, bicubic), before any check."""
    aligned = [[align(flow, rainy[s], greys[s]) for s, flow in flows] for flows in pair_flows(greys, RADIUS)]
    return [[(n.camera, n.luma, n.seen) for n in neighbours] for neighbours in aligned]


def local_floor(luma: np.ndarray, window: int | None) -> np.ndarray:
    """int16 H x W: the darkest luma in a window x window square around each pixel (0 everywhere: unbounded)."""
    if window is None:
        return np.zeros(luma.shape, np.int16)
    return cv2.erode(luma, np.ones((window, window), np.uint8)).astype(np.int16)


def floored_stage(rainy: list[np.ndarray], derained: list[np.ndarray], greys: list[np.ndarray], prepared: Prepared, window: int | None) -> list[np.ndarray]:
    """The stage's vote with the eleventh round's check: warped - centre < AGREEMENT and warped - floor > -AGREEMENT."""
    out = []
    for t, neighbours in enumerate(prepared):
        centre, floor = greys[t].astype(np.int16), local_floor(greys[t], window)
        usable = []
        for camera, warped, mask in neighbours:
            w = warped.astype(np.int16)
            usable.append((camera, mask & (w - centre < AGREEMENT) & (w - floor > -AGREEMENT)))
        out.append(vote(rainy[t], derained[t], usable))
    return out


TIGHT = 10  # the thirteenth round: grey levels from the neighbours' median that count as agreeing with it


def consensus_stage(
    rainy: list[np.ndarray],
    derained: list[np.ndarray],
    greys: list[np.ndarray],
    prepared: Prepared,
    window: int | None,
    tight: bool = False,
    matched: bool = False,
    dilated: bool = False,
) -> list[np.ndarray]:
    """The stage's vote with the twelfth round's check: each neighbour within AGREEMENT of the reference, which is
    the neighbours' median luma where frame t stands out above it (and it is not below frame t's local floor), else
    frame t; ``tight``: the median only where at least 3/4 of the neighbours seen are within TIGHT of it;
    ``matched``: the consensus over the neighbours matching frame t around the pixel, only they used where it switches;
    ``dilated``: frame t must also stand out above the median of their 3 x 3 maxima."""
    out = []
    for t, neighbours in enumerate(prepared):
        centre = greys[t].astype(np.int16)
        if matched:
            around = [cv2.medianBlur(cv2.absdiff(warped, greys[t]), 5) < TIGHT for _, warped, _ in neighbours]
            neighbours = [(camera, warped, mask, mask & near) for (camera, warped, mask), near in zip(neighbours, around)]
        else:
            neighbours = [(camera, warped, mask, mask) for camera, warped, mask in neighbours]
        stack = np.stack([np.where(voting, warped.astype(np.float32), np.nan) for _, warped, _, voting in neighbours])
        count = np.sum([voting for _, _, _, voting in neighbours], axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # pixels no neighbour sees: NaN, not used below
            median = np.rint(np.nan_to_num(np.nanmedian(stack, axis=0), nan=0.0)).astype(np.int16)
        stands_out = (count >= 2) & (centre - median >= AGREEMENT) & (median - local_floor(greys[t], window) > -AGREEMENT)
        if tight:
            near = np.sum([voting & (np.abs(warped.astype(np.int16) - median) <= TIGHT) for _, warped, _, voting in neighbours], axis=0)
            stands_out &= 4 * near >= 3 * count
        if dilated:
            brightest = np.stack([np.where(voting, cv2.dilate(warped, np.ones((3, 3), np.uint8)).astype(np.float32), np.nan) for _, warped, _, voting in neighbours])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                stands_out &= centre - np.rint(np.nan_to_num(np.nanmedian(brightest, axis=0), nan=255.0)) >= AGREEMENT
        reference = np.where(stands_out, median, centre)
        usable = [
            (camera, np.where(stands_out, voting, mask) & (np.abs(warped.astype(np.int16) - reference) < AGREEMENT))
            for camera, warped, mask, voting in neighbours
        ]
        out.append(vote(rainy[t], derained[t], usable))
    return out


@contextmanager
def without_object_guard() -> Iterator[None]:
    """The fifteenth round's check: the shipped one without the sixteenth round's guard for objects the flow missed."""
    original = temporal._objects
    temporal._objects = lambda centre, lumas: np.zeros(centre.shape, bool)
    try:
        yield
    finally:
        temporal._objects = original


@contextmanager
def matching_on_openings(size: int) -> Iterator[None]:
    """The seventeenth round's check: the neighbours' match around the pixel measured on the 3 x 3 grey openings of
    both lumas (thin bright lines, streaks, removed from both) over a size x size square."""
    original = temporal._matching
    square = np.ones((3, 3), np.uint8)

    def opened(centre_grey: np.ndarray, neighbours: list[temporal.Neighbour]) -> list[np.ndarray]:
        centre = cv2.morphologyEx(centre_grey, cv2.MORPH_OPEN, square)
        return [n.seen & (cv2.medianBlur(cv2.absdiff(cv2.morphologyEx(n.luma, cv2.MORPH_OPEN, square), centre), size) < temporal.TIGHT) for n in neighbours]

    temporal._matching = opened
    try:
        yield
    finally:
        temporal._matching = original


def variant_stage(rainy: list[np.ndarray], derained: list[np.ndarray], variant: Callable[[], AbstractContextManager]) -> list[np.ndarray]:
    """The shipped stage on one model's cached outputs, with ``variant`` patching its check."""
    with variant():
        return shipped_stage(rainy, derained)


# the sixteenth round's candidate, and the seventeenth's, each against the stage shipped when it was scored
GUARDED: dict[str, Callable[[], AbstractContextManager]] = {"fifteenth round": without_object_guard, "guarded (shipped since the sixteenth round)": nullcontext}
OPENED: dict[str, Callable[[], AbstractContextManager]] = {
    "shipped (sixteenth round)": nullcontext,
    "opened, 5 x 5": partial(matching_on_openings, 5),
    "opened, 7 x 7": partial(matching_on_openings, 7),
}


CONSENSUS: dict[str, int | None] = {"previous check (W = 1)": 1, "consensus, W = 5": 5, "consensus, unbounded": None}


def all_windows(
    rainy: list[np.ndarray], derained: list[np.ndarray], consensus: bool = False, tight: bool = False, matched: bool = False, dilated: bool = False
) -> dict[str, list[np.ndarray]]:
    """Each candidate's staged frames for one model's cached outputs (the eleventh round's to the fourteenth's)."""
    greys = [grey(d) for d in derained]
    prepared = prepare(rainy, greys)
    if consensus:
        return {
            name: floored_stage(rainy, derained, greys, prepared, 1) if window == 1 else consensus_stage(rainy, derained, greys, prepared, window, tight, matched, dilated)
            for name, window in CONSENSUS.items()
        }
    return {name: floored_stage(rainy, derained, greys, prepared, window) for name, window in WINDOWS.items()}


def main() -> None:
    parser = cache_parser(__doc__)
    parser.add_argument("--consensus", action="store_true", help="the twelfth round's candidates instead of the eleventh's")
    parser.add_argument("--tight", action="store_true", help="with --consensus: the thirteenth round's")
    parser.add_argument("--matched", action="store_true", help="with --consensus --tight: the fourteenth round's")
    parser.add_argument("--dilated", action="store_true", help="with --consensus --tight --matched: the fifteenth round's")
    parser.add_argument("--guarded", action="store_true", help="the sixteenth round's candidate against the shipped stage")
    parser.add_argument("--opened", action="store_true", help="the seventeenth round's candidates against the shipped stage")
    args = parser.parse_args()
    names = CONSENSUS if args.consensus else WINDOWS
    rows: dict[str, list[tuple[float, float, float]]] = {}
    checked = False
    for seq, rainy, clean in loaded(args.set):
        lite, s2vd, sapnet = (cached(args.cache, model, args.set, seq) for model in ("lite", "s2vd", "sapnet-realrain"))
        flags = (args.consensus, args.tight, args.matched, args.dilated)
        if args.guarded or args.opened:
            names = GUARDED if args.guarded else OPENED
            staged = {model: {name: variant_stage(rainy, frames, variant) for name, variant in names.items()} for model, frames in (("lite", lite), ("identity", rainy))}
            for_s2vd, for_sapnet = ({name: variant_stage(rainy, frames, variant) for name, variant in names.items()} for frames in (s2vd, sapnet))
        else:
            staged = {"lite": all_windows(rainy, lite, *flags), "identity": all_windows(rainy, rainy, *flags)}
            for_s2vd, for_sapnet = (all_windows(rainy, frames, *flags) for frames in (s2vd, sapnet))
        staged["default"] = {name: rounded_mean([for_s2vd[name], for_sapnet[name]]) for name in names}
        if not checked and all(flags):  # the fifteenth round's unbounded form is the shipped stage without the guard
            with without_object_guard():
                assert all(np.array_equal(a, b) for a, b in zip(staged["lite"]["consensus, unbounded"], shipped_stage(rainy, lite)))
            checked = True
        for model, by_window in staged.items():
            for name, out in by_window.items():
                rows.setdefault(f"{model} | {name}", []).append(measure(out, clean, rainy=rainy))
        print(seq, {label: tuple(round(v, 3) for v in values[-1]) for label, values in rows.items() if "W = 5" in label or "W = 1" in label or "guarded" in label or "shipped" in label or "opened" in label}, flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
