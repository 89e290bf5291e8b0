"""The temporal stage: the vote, streaks removed from a static scene, a steadier panning video, no ghost
of a moving object, bounded memory."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest

from derain_cli.derainer import Derainer
from derain_cli.metrics import psnr_y
from derain_cli.synth.params import draw_params
from derain_cli.synth.render import RainRenderer
from derain_cli.video.processors import PerFrame, make_processor, run_processor
from derain_cli.video.flow import warping_error
from derain_cli.video.flow import PairFlow, grey
from derain_cli.video.temporal import AGREEMENT, TOLERANCE, Neighbour, TemporalFusion, _masked_median, align, ballot, striped_vote, usable, vote
from video_clips import one_torch_thread  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def derainer() -> Derainer:
    """The bundled default model: the stage is tested on what users run."""
    return Derainer(device="cpu", precision="fp32")


def textured(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like textured scene (smooth shading plus fine detail), uint8 RGB."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([70 + 90 * x / width, 80 + 60 * y / height, 110 + 40 * np.sin(x / 9 + y / 13)], axis=2)
    detail = rng.normal(0, 10, (height // 4 + 1, width // 4 + 1, 1)).repeat(4, 0).repeat(4, 1)[:height, :width]
    return np.clip(base + detail, 0, 255).astype(np.uint8)


def rainy_clip(clean: list[np.ndarray], preset: str = "streaks", seed: int = 3) -> list[np.ndarray]:
    """Coherent falling rain from `derain synth`'s renderer over ``clean``."""
    height, width = clean[0].shape[:2]
    renderer = RainRenderer(height, width, draw_params(preset, seed, {"noise": 0.0, "jpeg": 0}))
    return [renderer.frame(frame) for frame in clean]


def mean_psnr(frames: list[np.ndarray], clean: list[np.ndarray], region: tuple[slice, slice] | None = None) -> float:
    region = region or (slice(None), slice(None))
    return float(np.mean([psnr_y(f[region], c[region]) for f, c in zip(frames, clean, strict=True)]))


def _grey(value: int, shape: tuple[int, int] = (2, 3)) -> np.ndarray:
    return np.full((*shape, 3), value, np.uint8)


def test_a_streak_is_outvoted_by_the_neighbours_that_saw_the_background():
    seen, hidden = np.ones((2, 3), bool), np.zeros((2, 3), bool)
    rainy, derained = _grey(200), _grey(90)  # a streak at frame t; the model darkened it too much
    neighbours = [(_grey(100), seen), (_grey(104), seen), (_grey(250), hidden), (_grey(102), seen)]
    # votes 200, 90, 100, 104, 102 (250 not visible): lower median 102, mean of those within TOLERANCE
    assert (vote(rainy, derained, neighbours) == round((90 + 100 + 104 + 102) / 4)).all()
    found = ballot(rainy, derained, neighbours)  # what the vote was built from
    assert (found.lower_median == 102).all() and (found.seen == 3).all()


def test_without_visible_neighbours_the_camera_and_the_model_decide():
    hidden = np.zeros((2, 3), bool)
    # they disagree: the darker (rain adds light)
    assert (vote(_grey(180), _grey(120), [(_grey(0), hidden)]) == 120).all()
    # they agree within TOLERANCE: their mean
    assert (vote(_grey(130), _grey(130 - TOLERANCE), []) == 130 - TOLERANCE // 2).all()


def test_per_channel_and_per_pixel():
    rainy = np.array([[[10, 200, 30], [40, 50, 60]]], np.uint8)
    derained = np.array([[[11, 100, 30], [90, 50, 61]]], np.uint8)
    seen = np.array([[True, False]])
    neighbour = np.array([[[12, 104, 255], [0, 0, 0]]], np.uint8)
    out = vote(rainy, derained, [(neighbour, seen)])
    assert out[0, 0].tolist() == [11, 102, 30]  # 10/11/12 agree; 100/104 outvote 200; 255 too far from 30
    assert out[0, 1].tolist() == [40, 50, 60]  # 40 vs 90 disagree: the darker; 50/50 and 60/61 averaged (60.5 -> 60)


def reference_vote(rainy: np.ndarray, derained: np.ndarray, neighbours: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The vote as the module's docstring states it, one pixel and channel at a time in plain Python."""
    out = np.empty_like(rainy)
    for y, x, c in np.ndindex(*rainy.shape):
        votes = [int(rainy[y, x, c]), int(derained[y, x, c])] + [int(image[y, x, c]) for image, seen in neighbours if seen[y, x]]
        lower_median = sorted(votes)[(len(votes) - 1) // 2]
        near = [v for v in votes if abs(v - lower_median) <= TOLERANCE]
        out[y, x, c] = round(sum(near) / len(near))  # Python rounds halves to even, as np.rint
    return out


def test_the_vote_equals_the_rule_computed_pixel_by_pixel():
    """The vote works on whole frames with tricks (absent votes as 255, a sort by min/max passes, masks per channel):
    on random frames with any number of neighbours, values at both ends of the range and halves to round, its
    output is the rule's, pixel by pixel."""
    rng = np.random.default_rng(7)
    for trial in range(60):
        shape, level = (int(rng.integers(1, 6)), int(rng.integers(1, 6)), 3), int(rng.choice([0, 8, 128, 247, 255]))

        def frame():  # near a common level (votes agree) or anywhere (they do not)
            spread = rng.integers(-2 * TOLERANCE, 2 * TOLERANCE + 1, shape) if rng.random() < 0.7 else rng.integers(-255, 256, shape)
            return np.clip(level + spread, 0, 255).astype(np.uint8)

        neighbours = [(frame(), rng.random(shape[:2]) < rng.random()) for _ in range(int(rng.integers(0, 9)))]
        rainy, derained = frame(), frame()
        assert np.array_equal(vote(rainy, derained, neighbours), reference_vote(rainy, derained, neighbours)), trial
    # a real 255 ties with the absent marker: only the given votes count (250, 240, 255: 248; the absent one too: 251)
    hidden, seen = np.zeros((2, 3), bool), np.ones((2, 3), bool)
    assert (vote(_grey(250), _grey(240), [(_grey(255), hidden), (_grey(255), seen)]) == 248).all()


def test_the_radius_is_bounded_by_what_the_vote_can_count(derainer):
    from derain_cli.video.temporal import MAX_RADIUS

    inner = PerFrame(derainer)
    assert TemporalFusion(inner, MAX_RADIUS).radius == MAX_RADIUS
    for radius in (0, MAX_RADIUS + 1):
        with pytest.raises(ValueError, match=f"1..{MAX_RADIUS}"):
            TemporalFusion(inner, radius)


def test_a_panning_rainy_video_comes_back_steadier(derainer):
    """The warping error (flow on the clean frames) of the default stage is well below frame-by-frame output's."""
    scene = textured(72, 200, seed=2)
    clean = [np.ascontiguousarray(scene[:, 3 * t : 3 * t + 96]) for t in range(9)]  # the camera pans 3 px a frame
    rainy = rainy_clip(clean)
    plain = run_processor(make_processor(derainer, temporal=0), rainy)
    fused = run_processor(make_processor(derainer), rainy)  # the default: the stage on
    assert warping_error(fused, clean) < 0.8 * warping_error(plain, clean)
    assert mean_psnr(fused, clean) > mean_psnr(plain, clean)


def test_static_scene_comes_back_cleaner_with_the_temporal_stage(derainer):
    clean = [textured(64, 96)] * 7
    rainy = rainy_clip(clean)
    plain = run_processor(make_processor(derainer, temporal=0), rainy)
    fused = run_processor(make_processor(derainer), rainy)  # the default: the stage on
    assert len(fused) == len(rainy)
    assert mean_psnr(fused, clean) > mean_psnr(plain, clean) + 0.5


def test_a_moving_object_is_not_ghosted(derainer):
    background = textured(64, 96, seed=1)
    clean = []
    for t in range(7):
        frame = background.copy()
        frame[20:40, 8 + 10 * t : 28 + 10 * t] = (235, 225, 60)  # a bright object crossing the frame
        clean.append(frame)
    rainy = rainy_clip(clean)
    plain = run_processor(make_processor(derainer, temporal=0), rainy)
    fused = run_processor(make_processor(derainer), rainy)  # the default: the stage on
    for t in range(1, 6):  # the object's box and the trail it leaves, frame by frame
        box = (slice(16, 44), slice(8 + 10 * (t - 1), 32 + 10 * (t + 1)))
        assert psnr_y(fused[t][box], clean[t][box]) >= psnr_y(plain[t][box], clean[t][box]) - 0.1, t


class _Counting:
    """A frame-by-frame processor that counts the frames it holds (inputs given, outputs not yet returned)."""

    def __init__(self, inner: PerFrame) -> None:
        self.inner, self.window, self.alive, self.peak = inner, inner.window, 0, 0

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        self.alive += 1
        self.peak = max(self.peak, self.alive)
        out = self.inner.push(frame)
        self.alive -= len(out)
        return out

    def finish(self) -> list[np.ndarray]:
        out = self.inner.finish()
        self.alive -= len(out)
        return out


def test_the_stage_streams_with_memory_bounded_by_its_window(derainer):
    frames = [textured(32, 32, seed=t % 5) for t in range(120)]
    inner = _Counting(PerFrame(derainer, batch=3))
    stage = TemporalFusion(inner, radius=2)
    out_count, peak_held = 0, 0
    for pushed, frame in enumerate(frames, start=1):
        out_count += len(stage.push(frame))
        peak_held = max(peak_held, pushed - out_count)
        assert len(stage._held) <= 2 * stage.radius + 1
    out_count += len(stage.finish())
    assert out_count == len(frames)
    assert peak_held <= stage.window == 3 + 2
    assert inner.peak <= 3


class Given:
    """A processor whose "derained" frames are given beforehand (the frames themselves by default: a model that
    leaves all the rain), so that only the stage runs."""

    window = 0

    def __init__(self, frames=None):
        self.frames = iter(frames) if frames is not None else None

    def push(self, frame):
        return [next(self.frames) if self.frames is not None else frame]

    def finish(self):
        return []


def _flat_neighbours(lumas: list[np.ndarray]) -> list[Neighbour]:
    """Neighbours already on frame t's grid, all seen (their camera frame is their luma, in grey)."""
    return [Neighbour(np.repeat(luma[..., None], 3, axis=2), luma, np.ones(luma.shape, bool)) for luma in lumas]


def test_where_frame_t_keeps_a_streak_the_neighbours_that_saw_the_background_are_used():
    background = np.full((9, 9), 100, np.uint8)
    centre = background.copy()
    centre[:, 4] = 160  # a streak the model left in frame t: 60 levels above the background
    usable_masks = usable(centre, _flat_neighbours([background + k for k in (0, 1, 2, 3)]))
    assert all(mask[:, 4].all() for mask in usable_masks)  # checked against their consensus, not frame t
    assert all(mask.all() for mask in usable_masks)
    # the same neighbours when frame t has no streak: checked against frame t, all agree as before
    assert all(mask.all() for mask in usable(background, _flat_neighbours([background + k for k in (0, 1, 2, 3)])))


def test_a_detail_the_neighbours_show_a_pixel_away_or_disagree_on_is_not_a_streak():
    background = np.full((9, 9), 100, np.uint8)
    centre = background.copy()
    centre[:, 4] = 160
    beside = background.copy()
    beside[:, 5] = 160  # a pole of the scene, one pixel off in the neighbours: frame t does not stand out above it
    assert not any(mask[:, 4].any() for mask in usable(centre, _flat_neighbours([beside] * 4)))
    # neighbours that match frame t around the pixel but disagree among themselves on it: no consensus, frame t's check
    scattered = [background.copy() for _ in range(4)]
    for neighbour, value in zip(scattered, (70, 100, 130, 85)):
        neighbour[:, 4] = value
    assert not any(mask[:, 4].any() for mask in usable(centre, _flat_neighbours(scattered)))
    # neighbours that do not match frame t around the pixel (misaligned) are left out of the consensus
    misaligned = [np.full((9, 9), 40, np.uint8)] * 3 + [background]
    assert not any(mask[:, 4].any() for mask in usable(centre, _flat_neighbours(misaligned)))
    # a single neighbour is no consensus
    assert not usable(centre, _flat_neighbours([background]))[0][:, 4].any()


def test_the_masked_median_is_numpys_nanmedian_rounded():
    rng = np.random.default_rng(3)
    for trial in range(40):
        count = int(rng.integers(1, 9))
        values = [rng.integers(0, 256, (4, 5)).astype(np.uint8) for _ in range(count)]
        given = [rng.random((4, 5)) < 0.6 for _ in range(count)]
        stack = np.stack([np.where(g, v.astype(np.float32), np.nan) for v, g in zip(values, given)])
        anyone = np.any(given, axis=0)
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning) if not anyone.all() else nullcontext():
            expected = np.rint(np.nanmedian(stack, axis=0))
        assert np.array_equal(_masked_median(values, given)[anyone], expected[anyone].astype(np.int16)), trial


def test_streaks_the_model_left_are_removed_by_the_stage():
    """A static scene; each frame has its own thin streak and the "model" leaves them all: the neighbours that saw
    the background now outvote each streak (the check compares them with their consensus there, not with frame t)."""
    clean = [textured(48, 64, seed=4)] * 7
    rainy = []
    for t, frame in enumerate(clean):
        streaked = frame.astype(np.int16)
        streaked[6:42, 8 + 7 * t : 10 + 7 * t] += 70
        rainy.append(np.clip(streaked, 0, 255).astype(np.uint8))
    fused = run_processor(TemporalFusion(Given()), rainy)
    for t in range(1, 6):  # frames with neighbours on both sides
        assert psnr_y(fused[t], clean[t]) > psnr_y(rainy[t], clean[t]) + 10, t


def test_a_small_bright_moving_object_the_flow_misses_is_kept_whole():
    """Rain-free: a 6 x 6 bright object crossing the frame 9 px a frame (the flow does not follow it). Its corners
    look like streaks to the consensus (the 5 x 5 square around them is mostly background), but frame t stands out
    above its neighbours there in a region 6 pixels wide, not a thin line: an object, so the check stays frame t's."""
    background = textured(64, 96, seed=1)
    clean = []
    for t in range(7):
        frame = background.copy()
        frame[30:36, 8 + 9 * t : 14 + 9 * t] = 250
        clean.append(frame)
    fused = run_processor(TemporalFusion(Given()), clean)
    for t in range(7):
        box = (slice(30, 36), slice(8 + 9 * t, 14 + 9 * t))
        assert (np.abs(fused[t][box].astype(int) - 250).max(axis=2) < AGREEMENT).all(), t


def test_the_stage_streaming_with_its_flows_in_threads_equals_a_direct_reference():
    """The stage computes each flow pair once, a new frame's in threads, and holds a window: frame by frame its output
    is the vote over the aligned neighbours computed directly (module docstring), byte for byte."""
    scene = textured(80, 220, seed=5)
    clean = [np.ascontiguousarray(scene[:, 4 * t : 4 * t + 120]) for t in range(10)]  # a pan: every flow differs
    rainy = rainy_clip(clean)
    derained = [np.clip(c.astype(int) + 3, 0, 255).astype(np.uint8) for c in clean]  # a model's output, slightly off
    streamed = run_processor(TemporalFusion(Given(derained), 3), rainy)
    for t, out in enumerate(streamed):
        neighbours = []
        for j in range(max(0, t - 3), min(len(rainy), t + 4)):
            if j != t:
                neighbours.append(align(PairFlow(grey(derained[t]), grey(derained[j])), rainy[j], grey(derained[j])))
        voting = usable(grey(derained[t]), neighbours)
        assert np.array_equal(out, vote(rainy[t], derained[t], [(n.camera, ok) for n, ok in zip(neighbours, voting)])), t
    odd = slice(0, 5)  # fewer rows than stripes would like, and an odd count: still the vote of the whole frame
    assert np.array_equal(striped_vote(rainy[0][odd], derained[0][odd], [(rainy[1][odd], np.ones((5, 120), bool))]),
                          vote(rainy[0][odd], derained[0][odd], [(rainy[1][odd], np.ones((5, 120), bool))]))  # fmt: skip
