"""Optical flow for video: dense DIS flow (OpenCV), backward warping and occlusion masks.

Conventions: ``flow(a, b)`` is the flow from frame ``a`` to frame ``b``: ``a(x) ~ b(x + flow(x))``, so
``warp(b, flow(a, b))`` brings ``b`` onto ``a``'s pixel grid. The occlusion mask is the forward-backward
consistency check of Ruder et al. (GCPR 2016), the one Lai et al. (ECCV 2018) use for the warping error.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

# DIS preset: MEDIUM is accurate enough for consistency checks and costs ~20 ms at 640x480 on one core.
_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
WARP_SCALE = 1e3  # warping errors are reported x1e3, as Lai et al. and S2VD do


def grey(rgb: np.ndarray) -> np.ndarray:
    """The uint8 luma DIS works on (H x W), from an H x W x 3 RGB uint8 or float [0, 1] frame."""
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def dis_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow H x W x 2 (float32, x then y) from grey frame ``a`` to grey frame ``b``."""
    engine = cv2.DISOpticalFlow_create(_PRESET)
    return engine.calc(a, b, None)


@lru_cache(maxsize=4)
def _grid(height: int, width: int, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (x, y) of an H x W frame, made once per size: every warp of a video needs them."""
    xs, ys = np.meshgrid(np.arange(width, dtype=dtype), np.arange(height, dtype=dtype))
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def sample_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The float32 coordinates ``x + flow(x)`` that :func:`warp` samples at."""
    xs, ys = _grid(*flow.shape[:2], np.float32)
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(
    image: np.ndarray, flow: np.ndarray, maps: tuple[np.ndarray, np.ndarray] | None = None, interpolation: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """Sample ``image`` at ``x + flow(x)`` (bilinear unless ``interpolation`` says otherwise, edges replicated):
    ``image`` seen from the flow's source frame.

    ``maps``: :func:`sample_maps` of ``flow``, when several images are warped along the same flow.
    """
    map_x, map_y = maps if maps is not None else sample_maps(flow)
    return cv2.remap(image, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)


def _squared_norm(flow: np.ndarray) -> np.ndarray:
    """H x W: x^2 + y^2 of an H x W x 2 flow; the same float32 values as ``np.sum(flow**2, axis=2)``, whose
    reduction over a 2-long last axis is several times slower."""
    x, y = flow[..., 0], flow[..., 1]
    return x * x + y * y


def consistent(flow_ab: np.ndarray, flow_ba: np.ndarray, maps: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Boolean H x W mask of pixels of ``a`` visible in ``b``: the flows agree there and land inside ``b``.

    Ruder et al.: |w + w^(x + w)|^2 < 0.01 (|w|^2 + |w^(x + w)|^2) + 0.5, with w = flow_ab and w^ = flow_ba.
    ``maps``: :func:`sample_maps` of ``flow_ab`` if already computed.
    """
    height, width = flow_ab.shape[:2]
    back = warp(flow_ba, flow_ab, maps)
    gap = _squared_norm(flow_ab + back)
    bound = 0.01 * (_squared_norm(flow_ab) + _squared_norm(back)) + 0.5
    xs, ys = _grid(height, width, np.int64)
    lands_x, lands_y = xs + flow_ab[..., 0], ys + flow_ab[..., 1]
    inside = (lands_x >= 0) & (lands_x <= width - 1) & (lands_y >= 0) & (lands_y <= height - 1)
    return (gap < bound) & inside


class PairFlow:
    """Flow between two frames with its occlusion mask: what the warping error and the temporal stage need."""

    def __init__(self, a: np.ndarray, b: np.ndarray, flows: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """``a``, ``b``: grey uint8 frames (see :func:`grey`); ``flows``: (a -> b, b -> a) if already computed."""
        self.a_to_b, b_to_a = flows if flows is not None else (dis_flow(a, b), dis_flow(b, a))
        self._maps = sample_maps(self.a_to_b)  # shared by the consistency check and every bring()
        self.mask = consistent(self.a_to_b, b_to_a, self._maps)

    @classmethod
    def both_ways(cls, a: np.ndarray, b: np.ndarray) -> tuple[PairFlow, PairFlow]:
        """(a -> b, b -> a) from two flow computations instead of four."""
        forward, backward = dis_flow(a, b), dis_flow(b, a)
        return cls(a, b, (forward, backward)), cls(b, a, (backward, forward))

    def bring(self, image_b: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """``image_b`` (any channels) warped onto ``a``'s grid (an OpenCV interpolation flag: bilinear by default)."""
        return warp(image_b, self.a_to_b, self._maps, interpolation)


def _unit(frame: np.ndarray) -> np.ndarray:
    """float32 in [0, 1] from a uint8 or float frame."""
    return frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float32)


class FlowChain:
    """The flow from each frame to the one before it, computed once per consecutive pair of guide frames,
    so every sequence warped along the same guides (input, outputs, target) shares it."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None

    def next(self, guide: np.ndarray) -> PairFlow | None:
        """The flow from ``guide`` to the previous guide (None for the first frame)."""
        current = grey(guide)
        previous, self._previous = self._previous, current
        return PairFlow(current, previous) if previous is not None else None


class WarpingError:
    """Lai et al.'s warping error accumulated frame by frame: it holds one previous frame, never the sequence.

    Per consecutive pair (t-1, t): the squared difference between frame t and frame t-1 warped onto it,
    summed over RGB in [0, 1] and averaged over the visible pixels (as their evaluation code does: 3x a
    per-channel mean); :attr:`value` is the mean over the pairs.
    """

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._total = 0.0
        self.pairs = 0

    def add(self, frame: np.ndarray, flow: PairFlow | None) -> None:
        """The next frame, with the flow from it to the previous frame (from :class:`FlowChain`)."""
        current = _unit(frame)
        if flow is not None and self._previous is not None and flow.mask.any():
            diff = np.sum((current - flow.bring(self._previous)) ** 2, axis=2)
            self._total += float(diff[flow.mask].mean())
            self.pairs += 1
        self._previous = current

    @property
    def value(self) -> float:
        """The mean over the pairs so far; NaN before the second frame."""
        return self._total / self.pairs if self.pairs else float("nan")


class WarpingMeter:
    """The warping error of a stream's input and of its derained output, both with the flow on the input
    (``derain video --report``): memory of one frame of each."""

    def __init__(self) -> None:
        self._flows = FlowChain()
        self.input = WarpingError()
        self.output = WarpingError()

    def add(self, frame: np.ndarray, derained: np.ndarray) -> None:
        flow = self._flows.next(frame)
        self.input.add(frame, flow)
        self.output.add(derained, flow)


def warping_error(frames: list[np.ndarray], guides: list[np.ndarray] | None = None) -> float:
    """The :class:`WarpingError` of a sequence held in memory, the flow computed on ``guides``
    (e.g. the clean frames) when given, else on the frames themselves. Returns 0.0 for fewer than two frames.
    """
    guides = guides if guides is not None else frames
    if len(guides) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(guides)} flow guides")
    flows, error = FlowChain(), WarpingError()
    for frame, guide in zip(frames, guides):
        error.add(frame, flows.next(guide))
    return error.value if error.pairs else 0.0
