"""video.flow: DIS flow recovers a known motion, warping reproduces the frame, occlusions are masked,
and the warping error tells a steady sequence from a flickering one."""

from __future__ import annotations

import cv2
import numpy as np

from derain_cli.video.flow import FlowChain, PairFlow, WarpingError, WarpingMeter, dis_flow, grey, warp, warping_error


def texture(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture (blurred noise): detail at every place, as flow needs, and no aliasing."""
    noise = np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return np.rint(40 + 170 * smooth).astype(np.uint8)


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``image`` moved right by ``dx`` and down by ``dy``; what enters is new texture (another seed)."""
    height, width = image.shape[:2]
    fresh = texture(height, width, seed=9)
    out = fresh.copy()
    out[dy:, dx:] = image[: height - dy, : width - dx]
    return out


def test_a_known_translation_is_recovered_and_the_warp_reproduces_the_frame() -> None:
    a = texture()
    b = shifted(a, 3, 2)  # a(x) = b(x + (3, 2))
    flow = dis_flow(grey(a), grey(b))
    inner = (slice(12, -12), slice(12, -12))
    assert np.allclose(np.median(flow[inner], axis=(0, 1)), (3.0, 2.0), atol=0.1)
    assert np.abs(flow[inner] - (3.0, 2.0)).mean() < 0.25
    back = warp(b, flow)
    assert np.abs(back[inner].astype(int) - a[inner]).mean() < 1.5
    assert np.abs(b[inner].astype(int) - a[inner]).mean() > 10  # the frames themselves differ a lot


def test_the_occlusion_mask_excludes_a_region_that_appears() -> None:
    a = texture()
    b = shifted(a, 8, 0)  # the 8 left columns of b are new: nothing in a shows them
    pair = PairFlow(grey(b), grey(a))  # b's pixels as seen in a: what the warping error compares
    assert pair.mask[:, :6].mean() < 0.1
    assert pair.mask[10:-10, 20:-10].mean() > 0.95
    assert PairFlow(grey(a), grey(a)).mask.all()


def test_warping_error_of_a_static_sequence_is_zero_and_of_flickering_noise_high() -> None:
    still = [texture()] * 4
    assert warping_error(still) < 1e-6
    rng = np.random.default_rng(1)
    flicker = [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8) for _ in range(4)]
    assert warping_error(flicker, guides=still) > 0.3  # independent uniform noise: 3 x 2/12 = 0.5 per pixel
    assert warping_error(still[:1]) == 0.0


def test_the_streaming_meter_matches_whole_sequences() -> None:
    frames = [shifted(texture(), 2 * t, t) for t in range(4)]
    outputs = [np.clip(f.astype(int) + (t % 2) * 12, 0, 255).astype(np.uint8) for t, f in enumerate(frames)]
    meter = WarpingMeter()
    for frame, output in zip(frames, outputs):
        meter.add(frame, output)
    assert meter.input.pairs == meter.output.pairs == 3
    assert np.isclose(meter.input.value, warping_error(frames))
    assert np.isclose(meter.output.value, warping_error(outputs, guides=frames))
    assert meter.output.value > meter.input.value + 3 * (12 / 255) ** 2 * 0.9  # the flicker adds ~3 x 12^2 levels
    single, flows = WarpingError(), FlowChain()
    single.add(frames[0], flows.next(frames[0]))
    assert single.pairs == 0 and np.isnan(single.value)


def test_the_consistency_check_norms_are_numpys_sums_exactly() -> None:
    from derain_cli.video.flow import _squared_norm

    flow = np.random.default_rng(3).normal(0, 7, (37, 53, 2)).astype(np.float32)
    assert np.array_equal(_squared_norm(flow), np.sum(flow**2, axis=2))
