"""Optical flow for video: dense DIS flow (OpenCV), backward warping and occlusion masks.

Conventions: ``flow(a, b)`` is the flow from frame ``a`` to frame ``b``: ``a(x) ~ b(x + flow(x))``, so
``warp(b, flow(a, b))`` brings ``b`` onto ``a``'s pixel grid. The occlusion mask is the forward-backward
consistency check of Ruder et al. (GCPR 2016), the one Lai et al. (ECCV 2018) use for the warping error.
"""

from __future__ import annotations

import cv2
import numpy as np

# DIS preset: MEDIUM is accurate enough for consistency checks and costs ~20 ms at 640x480 on one core.
_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM


def grey(rgb: np.ndarray) -> np.ndarray:
    """The uint8 luma DIS works on (H x W), from an H x W x 3 RGB uint8 or float [0, 1] frame."""
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def dis_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow H x W x 2 (float32, x then y) from grey frame ``a`` to grey frame ``b``."""
    engine = cv2.DISOpticalFlow_create(_PRESET)
    return engine.calc(a, b, None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` at ``x + flow(x)`` (bilinear, edges replicated): ``image`` seen from the flow's source frame."""
    height, width = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistent(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """Boolean H x W mask of pixels of ``a`` visible in ``b``: the flows agree there and land inside ``b``.

    Ruder et al.: |w + w^(x + w)|^2 < 0.01 (|w|^2 + |w^(x + w)|^2) + 0.5, with w = flow_ab and w^ = flow_ba.
    """
    height, width = flow_ab.shape[:2]
    back = warp(flow_ba, flow_ab)
    gap = np.sum((flow_ab + back) ** 2, axis=2)
    bound = 0.01 * (np.sum(flow_ab**2, axis=2) + np.sum(back**2, axis=2)) + 0.5
    xs, ys = np.meshgrid(np.arange(width), np.arange(height))
    inside = (
        (xs + flow_ab[..., 0] >= 0) & (xs + flow_ab[..., 0] <= width - 1)
        & (ys + flow_ab[..., 1] >= 0) & (ys + flow_ab[..., 1] <= height - 1)
    )
    return (gap < bound) & inside


class PairFlow:
    """Flow between two frames with its occlusion mask: what the warping error and the temporal stage need."""

    def __init__(self, a: np.ndarray, b: np.ndarray, flows: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """``a``, ``b``: grey uint8 frames (see :func:`grey`); ``flows``: (a -> b, b -> a) if already computed."""
        self.a_to_b, b_to_a = flows if flows is not None else (dis_flow(a, b), dis_flow(b, a))
        self.mask = consistent(self.a_to_b, b_to_a)

    @classmethod
    def both_ways(cls, a: np.ndarray, b: np.ndarray) -> tuple[PairFlow, PairFlow]:
        """(a -> b, b -> a) from two flow computations instead of four."""
        forward, backward = dis_flow(a, b), dis_flow(b, a)
        return cls(a, b, (forward, backward)), cls(b, a, (backward, forward))

    def bring(self, image_b: np.ndarray) -> np.ndarray:
        """``image_b`` (any channels) warped onto ``a``'s grid."""
        return warp(image_b, self.a_to_b)


def warping_error(frames: list[np.ndarray], guides: list[np.ndarray] | None = None) -> float:
    """Lai et al.'s warping error of a frame sequence: the mean over consecutive pairs (t-1, t) of the squared
    difference between frame t and frame t-1 warped onto it, summed over RGB in [0, 1] and averaged over the
    visible pixels (as their evaluation code does: 3x a per-channel mean).

    The flow is computed on ``guides`` (e.g. the clean frames) when given, else on the frames themselves.
    Returns 0.0 for fewer than two frames.
    """
    guides = guides if guides is not None else frames
    if len(guides) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(guides)} flow guides")
    errors = []
    previous = grey(guides[0]) if frames else None
    for t in range(1, len(frames)):
        current = grey(guides[t])
        pair = PairFlow(current, previous)
        previous = current
        if not pair.mask.any():
            continue
        now = frames[t].astype(np.float32) / 255.0 if frames[t].dtype == np.uint8 else frames[t].astype(np.float32)
        before = frames[t - 1].astype(np.float32) / 255.0 if frames[t - 1].dtype == np.uint8 else frames[t - 1].astype(np.float32)
        diff = np.sum((now - pair.bring(before)) ** 2, axis=2)
        errors.append(float(diff[pair.mask].mean()))
    return float(np.mean(errors)) if errors else 0.0
