"""The temporal stage: in video, rain is what moves differently from the scene, so time can remove it.

A streak covers a pixel for a frame or two; the background behind it shows in the neighbouring frames.
For frame t the stage aligns frames t-K..t+K to t with dense DIS flow computed on the derained frames
(where streaks no longer mislead it; bicubic sampling, which keeps more detail than bilinear) and keeps,
per neighbour, only the pixels the forward-backward check finds visible and whose derained luma agrees
with frame t's (a moving object the flow missed is not rain: it is never borrowed, so nothing is ghosted).

Where the model left a streak in frame t, that check would turn away exactly the neighbours that saw the background
(they are darker than frame t's derained luma there). So where frame t *stands out*, at least AGREEMENT levels
brighter (rain adds light) than what its neighbours agree on, the neighbours are checked against their consensus
instead of frame t: the median luma of the neighbours that match frame t around the pixel (the 5 x 5 median of their
difference below TIGHT levels: a neighbour misaligned by a period of a texture, or one that missed a moving object,
differs over most of that square; a thin streak does not move its median), where at least three quarters of them
are within TIGHT of it, and where frame t also stands out above the median of their 3 x 3 maxima (a detail of the
scene that a neighbour shows a pixel away is not a streak). Only those matching neighbours are then used there.
Not within a pixel of a region at least 3 pixels wide both ways where frame t stands out above all its neighbours
(an object the flow missed, whose corners would otherwise look like streaks): there the check stays frame t's.

Each output pixel is then a robust vote per colour channel among frame t as the camera recorded it,
the model's derained frame t, and every visible aligned neighbour as the camera recorded it: the *lower*
median of the votes (rain adds light, so a tie goes to the darker side), then the mean of the votes
within ``TOLERANCE`` grey levels of it. A streak is outvoted by the neighbours that saw the background;
texture comes from the camera's frames, not from the model (which flattens it); averaging the agreeing
votes steadies noise and faint rain from frame to frame (the warping error). Where no neighbour sees
a pixel the vote is between the camera and the model alone: the darker, or their mean where they agree.

Chosen by measurement on synthetic rainy videos, never on a test set (benchmarks/video/temporal_variants.py,
docs/video.md): against the frame-by-frame output of the bundled SAPNet and of S2VD, the previous
evidence-gated design, plain medians of aligned frames, bilinear sampling and radius 2; the consensus where frame t
stands out in the fifteenth and sixteenth rounds (benchmarks/video/agreement_floor_choice.py). It wraps any
:class:`~derain_cli.video.processors.FrameProcessor` and streams: it holds K frames beyond the inner
processor's own window.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from derain_cli.video.flow import PairFlow, grey
from derain_cli.video.processors import FrameProcessor


@dataclass
class _Held:
    rainy: np.ndarray  # H x W x 3 uint8, the input frame
    derained: np.ndarray  # H x W x 3 uint8
    grey: np.ndarray  # its luma, what the flow is computed on
    # flows to the following frames, by distance 1..K (filled as they arrive)
    ahead: dict[int, tuple[PairFlow, PairFlow]]


# A warped neighbour pixel further than this (luma, grey levels) from the frame's own derained value is
# taken as misaligned (a moving object the flow missed), not as rain: the derained frames hold little rain.
# It is also how far above its neighbours' consensus frame t must be to stand out (a streak the model left).
AGREEMENT = 20
# Grey levels within which a neighbour matches frame t around a pixel, and agrees with the neighbours' consensus.
TIGHT = 10
# The square (pixels a side) over which a neighbour must match frame t, by the median of their difference.
MATCH_SIZE = 5
# Votes within this many grey levels of the lower median are averaged (on the tuning set 12 beat 6, and 20 but
# for +0.05 dB with the bundled model at a lower SSIM).
TOLERANCE = 12
# Neighbours each side (3 beat 2 on the tuning set with both the bundled model and S2VD).
RADIUS = 3
# What `derain video` and video `derain eval` run without --temporal: the stage, since it beat frame-by-frame
# output on NTURain a1 (PSNR and warping error) and real clips (warping error), and stays at or above the rainy
# input on GT-RAIN's static scenes, though below the model's own gain there (docs/video.md).
DEFAULT_RADIUS = RADIUS
# The vote counts in uint8 and sums in int16: up to 2 + 2 x 60 votes (and 120 held frames is already minutes of video).
MAX_RADIUS = 60


@lru_cache(maxsize=1)
def _workers() -> int:
    """Threads for the stage: the cores this process may use, at most RADIUS (a new frame's flow pairs)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(RADIUS, cores)


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """Threads for the stage's independent parts: a new frame's flows to its neighbours (DIS keeps to one core
    each), the neighbours' alignment, and the vote in stripes of rows (per pixel). Each part's result is what it
    would be alone, so the output is the serial one, byte for byte; on 2 cores the stage is 1.5-2x faster."""
    return ThreadPoolExecutor(_workers(), thread_name_prefix="derain-stage")


def striped_vote(rainy: np.ndarray, derained: np.ndarray, neighbours: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """:func:`vote`, its rows shared among the stage's threads."""
    bounds = np.linspace(0, rainy.shape[0], _workers() + 1).astype(int)
    stripes = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    parts = _pool().map(lambda rows: vote(rainy[rows], derained[rows], [(image[rows], seen[rows]) for image, seen in neighbours]), stripes)
    return np.concatenate(list(parts))


@dataclass
class Neighbour:
    """A neighbour brought onto frame t's grid."""

    camera: np.ndarray  # H x W x 3 uint8: its rainy frame, which votes
    luma: np.ndarray  # H x W uint8: its derained luma, which the checks compare with frame t's
    seen: np.ndarray  # H x W bool: where the forward-backward check finds it visible


def align(flow: PairFlow, rainy: np.ndarray, derained_grey: np.ndarray, interpolation: int = cv2.INTER_CUBIC) -> Neighbour:
    """A neighbour on the centre's grid along ``flow`` (centre -> neighbour): its ``rainy`` frame and its derained
    luma (``derained_grey``, what the flow was computed on) warped, bicubic by default (uint8: saturated, no
    overshoot). Checking luma rather than the warped colour frame halves the remapping for the same scores on
    validation videos (docs/video.md)."""
    return Neighbour(flow.bring(rainy, interpolation), flow.bring(derained_grey, interpolation), flow.mask)


def _masked_median(values: list[np.ndarray], given: list[np.ndarray]) -> np.ndarray:
    """int16 H x W: per pixel, the median of the uint8 ``values`` whose ``given`` mask is set (the mean of the two
    middle ones when their count is even, rounded half to even, as ``np.rint(np.nanmedian(...))``); 255 where none is."""
    stack = np.empty((len(values), *values[0].shape), np.uint8)
    for k, (value, here) in enumerate(zip(values, given)):
        np.bitwise_or(value, np.ascontiguousarray(here, bool).view(np.uint8) - np.uint8(1), out=stack[k])  # absent: 255, sorted last
    _sort_votes(stack)
    count = np.sum(given, axis=0)
    lower = np.take_along_axis(stack, (np.maximum(count - 1, 0) // 2)[None], axis=0)[0].astype(np.int16)
    upper = np.take_along_axis(stack, np.minimum(count // 2, len(values) - 1)[None], axis=0)[0].astype(np.int16)
    twice = lower + upper
    return (twice >> 1) + (twice & 1 & (twice >> 1))  # x.5 goes to the even neighbour


def _objects(centre: np.ndarray, lumas: list[np.ndarray]) -> np.ndarray:
    """H x W bool: within a pixel of a region at least 3 pixels wide both ways (what survives a 3 x 3 opening) where
    frame t (``centre``, int16 luma) stands out AGREEMENT above the median of all its neighbours' lumas, seen or not:
    an object the flow missed; a streak is thinner."""
    darkest = np.minimum.reduce(lumas)
    where = np.nonzero(centre - darkest >= AGREEMENT)  # where the median can be AGREEMENT below frame t at all
    stands_out = np.zeros(centre.shape, np.uint8)
    if where[0].size:
        everyone = [np.ones(where[0].shape, bool)] * len(lumas)
        stands_out[where] = centre[where] - _masked_median([luma[where] for luma in lumas], everyone) >= AGREEMENT
    square = np.ones((3, 3), np.uint8)
    return cv2.dilate(cv2.morphologyEx(stands_out, cv2.MORPH_OPEN, square), square).astype(bool)


def _matching(centre_grey: np.ndarray, neighbours: list[Neighbour]) -> list[np.ndarray]:
    """Where each neighbour is seen and matches frame t around the pixel: the MATCH_SIZE x MATCH_SIZE median of their
    absolute luma difference below TIGHT (a misaligned or missed neighbour differs over most of the square)."""
    return [n.seen & (cv2.medianBlur(cv2.absdiff(n.luma, centre_grey), MATCH_SIZE) < TIGHT) for n in neighbours]


def usable(centre_grey: np.ndarray, neighbours: list[Neighbour]) -> list[np.ndarray]:
    """Where each neighbour may vote for frame t (``centre_grey``: its derained luma): where it is seen and within
    AGREEMENT of frame t's luma or, where frame t stands out above the neighbours' consensus (module docstring) and
    not beside an object the flow missed, where it matches frame t around the pixel and is within AGREEMENT of that
    consensus.

    The consensus is computed only at the pixels where frame t is AGREEMENT above the darkest matching neighbour
    (where it can stand out at all: few, on a derained frame), so the check costs little more than the plain one."""
    centre = centre_grey.astype(np.int16)
    lumas = [n.luma.astype(np.int16) for n in neighbours]
    plain = [n.seen & (np.abs(luma - centre) < AGREEMENT) for n, luma in zip(neighbours, lumas)]
    if len(neighbours) < 2:
        return plain
    matched = _matching(centre_grey, neighbours)
    darkest = np.full(centre.shape, 255, np.uint8)
    for here, n in zip(matched, neighbours):
        np.minimum(darkest, n.luma, out=darkest, where=here)
    count = np.sum(matched, axis=0)
    where = np.nonzero((count >= 2) & (centre - darkest >= AGREEMENT))
    if not where[0].size:
        return plain
    # at those pixels only: the consensus, how many agree with it, and the median of the neighbours' 3 x 3 maxima
    square = np.ones((3, 3), np.uint8)
    given = [here[where] for here in matched]
    values = [n.luma[where] for n in neighbours]
    consensus = _masked_median(values, given)
    near = np.sum([here & (np.abs(value.astype(np.int16) - consensus) <= TIGHT) for here, value in zip(given, values)], axis=0)
    brightest = _masked_median([cv2.dilate(n.luma, square)[where] for n in neighbours], given)
    stands_out = (4 * near >= 3 * count[where]) & (centre[where] - brightest >= AGREEMENT)
    if stands_out.any():
        stands_out &= ~_objects(centre, [n.luma for n in neighbours])[where]
    ys, xs, consensus = where[0][stands_out], where[1][stands_out], consensus[stands_out]
    for ok, here, value in zip(plain, matched, values):
        ok[ys, xs] = here[ys, xs] & (np.abs(value[stands_out].astype(np.int16) - consensus) < AGREEMENT)
    return plain


def _sort_votes(votes: np.ndarray) -> None:
    """Sort along axis 0 in place by odd-even transposition: a few elementwise min/max passes over whole
    frames, several times faster than ``np.sort(axis=0)`` for the handful of votes here (same result)."""
    count = len(votes)
    low = np.empty_like(votes[0])
    for round_ in range(count):
        for i in range(round_ % 2, count - 1, 2):
            np.minimum(votes[i], votes[i + 1], out=low)
            np.maximum(votes[i], votes[i + 1], out=votes[i + 1])
            votes[i] = low


@dataclass
class Ballot:
    """What the vote on frame t found: the fused frame, the lower median it was built around, and how many
    votes each pixel had (what benchmarks/video/blend_train.py's learned blend weighed them with). The
    vote's own arrays, not copies: the stage runs :func:`vote` on every frame."""

    voted: np.ndarray  # H x W x 3 uint8
    lower_median: np.ndarray  # H x W x 3 uint8
    given: np.ndarray  # H x W x 3 uint8: votes per pixel (the same for its channels), the camera's and the model's included

    @property
    def seen(self) -> np.ndarray:
        """H x W: the neighbours that saw each pixel (0..2 x radius)."""
        return self.given[..., 0].astype(np.intp) - 2


def vote(rainy: np.ndarray, derained: np.ndarray, neighbours: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Frame t from the camera's frame, the model's, and the aligned neighbours (rainy frame, visible mask):
    the mean of the votes within TOLERANCE of their lower median, per pixel and channel (see the module)."""
    return ballot(rainy, derained, neighbours).voted


def ballot(rainy: np.ndarray, derained: np.ndarray, neighbours: list[tuple[np.ndarray, np.ndarray]]) -> Ballot:
    """:func:`vote` with what it was built from.

    Every step works on whole uint8 frames with masks as wide as the frame (numpy is slow along a 3-long
    broadcast axis): an absent vote is 255, so the sorted votes of a pixel are its ``given`` real ones first
    (an absent 255 ties only with a real 255), and a vote counts only at a sorted place below ``given``."""
    votes = np.empty((2 + len(neighbours), *rainy.shape), np.uint8)
    votes[0], votes[1] = rainy, derained
    given = np.full(rainy.shape, 2, np.uint8)
    for k, (image, seen) in enumerate(neighbours, start=2):
        seen3 = cv2.merge([np.ascontiguousarray(seen, bool).view(np.uint8)] * 3)  # 1 where seen, per channel
        np.bitwise_or(image, seen3 - np.uint8(1), out=votes[k])  # seen: the pixel; absent: 0 - 1 wraps to 255
        given += seen3
    _sort_votes(votes)
    middle = (given - 1) // 2
    lower_median = votes[0].copy()
    for place in range(1, (len(votes) - 1) // 2 + 1):
        np.copyto(lower_median, votes[place], where=middle == place)
    low = lower_median.astype(np.int16) - TOLERANCE
    high = low + 2 * TOLERANCE
    total, near_count = np.zeros(rainy.shape, np.int16), np.zeros(rainy.shape, np.int16)
    for place, votes_here in enumerate(votes):
        near = (votes_here >= low) & (votes_here <= high)
        if place >= 2:  # the camera's and the model's votes are always given
            near &= given > place
        total += votes_here * near
        near_count += near
    # a quotient of n votes is a half or at least 1 / 2n from one, far beyond float32's error: rounds as float64 would
    voted = np.rint(total.astype(np.float32) / near_count).astype(np.uint8)
    return Ballot(voted, lower_median, given)


class TemporalFusion:
    """Wraps ``inner``: each of its derained frames is fused with up to ``radius`` aligned neighbours each side."""

    def __init__(self, inner: FrameProcessor, radius: int = RADIUS) -> None:
        if not 1 <= radius <= MAX_RADIUS:
            raise ValueError(f"temporal radius must be 1..{MAX_RADIUS}, got {radius}")
        self.inner = inner
        self.radius = radius
        self._inputs: deque[np.ndarray] = deque()  # frames pushed whose derained frame has not come back
        self.window = inner.window + radius
        self._held: deque[_Held] = deque()  # the last frames, oldest first: up to radius past + centre + radius ahead
        self._next = 0  # index in _held of the next frame to fuse and return

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        self._inputs.append(frame)
        return self._take(self.inner.push(frame), final=False)

    def finish(self) -> list[np.ndarray]:
        return self._take(self.inner.finish(), final=True)

    def _take(self, derained: list[np.ndarray], final: bool) -> list[np.ndarray]:
        for image in derained:
            self._add(image)
        out = []
        while self._next < len(self._held) and (final or len(self._held) - 1 - self._next >= self.radius):
            out.append(self._fuse(self._next))
            self._next += 1
            if self._next > self.radius:  # the oldest frame is no longer anyone's neighbour
                self._held.popleft()
                self._next -= 1
        if final:
            self._held.clear()
            self._next = 0
        return out

    def _add(self, image: np.ndarray) -> None:
        new = _Held(self._inputs.popleft(), image, grey(image), {})
        if self._held and self._held[-1].derained.shape != image.shape:
            raise ValueError(f"frame size changed from {self._held[-1].derained.shape} to {image.shape}")
        self._link(list(reversed(self._held))[: self.radius], new)  # nearest first
        self._held.append(new)

    @staticmethod
    def _link(earlier: list[_Held], new: _Held) -> None:
        """The flows both ways between ``new`` and each of ``earlier`` (nearest first), kept in their ``ahead``."""
        pairs = _pool().map(lambda old: PairFlow.both_ways(old.grey, new.grey), earlier)
        for distance, (old, pair) in enumerate(zip(earlier, pairs), start=1):
            old.ahead[distance] = pair

    def _fuse(self, index: int) -> np.ndarray:
        centre = self._held[index]
        jobs = []
        for j, other in enumerate(self._held):
            distance = j - index
            if distance == 0 or abs(distance) > self.radius:
                continue
            # ahead[d] holds (earlier -> later, later -> earlier)
            jobs.append((centre.ahead[distance][0] if distance > 0 else other.ahead[-distance][1], other))
        aligned = list(_pool().map(lambda job: align(job[0], job[1].rainy, job[1].grey), jobs))
        voting = usable(centre.grey, aligned)
        return striped_vote(centre.rainy, centre.derained, [(n.camera, ok) for n, ok in zip(aligned, voting)])
