"""ClipProcessor: the S2VD authors' clip schedule, streamed within its window; Derainer.derain_clip."""

import numpy as np
import pytest
import torch
from reference_s2vd import reference_clips

from conftest import shared_file
from derain_cli.cpu_bf16 import runs_bf16_fast
from derain_cli.derainer import Derainer
from derain_cli.errors import UsageError
from derain_cli.imageio import read_rgb8
from derain_cli.models import create_model
from derain_cli.video.clip import ClipProcessor
from derain_cli.video.processors import PerFrame, make_processor, run_processor
from derain_cli.video.temporal import RADIUS, TemporalFusion
from video_clips import scene

CLIP = 4  # a short clip keeps the schedule's cases cheap: the authors' 24 behaves the same


@pytest.fixture(scope="module")
def small_s2vd() -> Derainer:
    """A random one-block S2VD with 8 features: the schedule, not the weights, is under test."""
    torch.manual_seed(5)
    network = create_model("s2vd", features=8, blocks=1).eval()
    with torch.no_grad():
        for name, tensor in network.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
    return Derainer.from_network(network, device="cpu")


def _frames(count: int, height: int = 16, width: int = 20) -> list[np.ndarray]:
    return [scene(width, height, k) for k in range(count)]


def _whole(derainer: Derainer, frames: list[np.ndarray]) -> np.ndarray:
    """The network on ``frames`` as one clip, rounded to uint8."""
    return np.stack(derainer.derain_clip(frames)).astype(int)


@pytest.mark.parametrize("count", [12, 14, 15, 19])  # whole clips; a last clip of 2 or 3 frames; 4 clips + 3
def test_the_schedule_is_the_authors_script(small_s2vd, count):
    frames = _frames(count)
    ours = np.stack(run_processor(ClipProcessor(small_s2vd, clip=CLIP), frames)).astype(int)
    clip = torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2)[None].float() / 255
    with torch.no_grad():
        ref = reference_clips(clip, small_s2vd.network.state_dict(), truncate=CLIP, blocks=1)
    ref = np.rint(ref[0].permute(1, 2, 3, 0).numpy() * 255).astype(int)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1 and (ours != ref).mean() < 1e-3  # rounding of ties at most


def test_where_the_authors_script_fails(small_s2vd):
    """Their script breaks on one clip (its first clip drops 2 frames it has not got) and on a clip
    followed by one frame; here a single clip runs whole, and the last frame joins the clip before it."""
    frames = _frames(CLIP + 1)
    assert np.array_equal(np.stack(run_processor(ClipProcessor(small_s2vd, clip=CLIP), frames)), _whole(small_s2vd, frames))
    frames = _frames(2 * CLIP + 1)
    ours = np.stack(run_processor(ClipProcessor(small_s2vd, clip=CLIP), frames)).astype(int)
    assert np.array_equal(ours[:CLIP], _whole(small_s2vd, frames[: CLIP + 2])[:CLIP])
    assert np.array_equal(ours[CLIP:], _whole(small_s2vd, frames[CLIP - 2 :])[2:])


def test_it_never_holds_more_than_its_window(small_s2vd):
    processor = ClipProcessor(small_s2vd, clip=CLIP)
    assert processor.window == CLIP + 4
    frames, returned, most, first = _frames(23), 0, 0, None
    for pushed, frame in enumerate(frames, 1):
        most = max(most, pushed - returned)  # frames taken and not returned, the new one included
        done = processor.push(frame)
        first = first or (pushed if done else None)
        returned += len(done)
    returned += len(processor.finish())
    assert returned == len(frames) and most <= processor.window
    assert first == CLIP + 2  # a clip is returned once the 2 frames after it are in
    assert processor.finish() == []


def test_make_processor_picks_clips_for_a_video_model(small_s2vd):
    processor = make_processor(small_s2vd, batch=4, temporal=0)
    assert isinstance(processor, ClipProcessor) and processor.window == 28  # the authors' 24 + 2 x 2
    staged = make_processor(small_s2vd, batch=4)  # the temporal stage on the clips by default
    assert isinstance(staged, TemporalFusion) and staged.inner.window == 28 and staged.window == 28 + RADIUS
    single = Derainer.from_network(create_model("prenet", stages=1), device="cpu")
    assert isinstance(make_processor(single, batch=4, temporal=0), PerFrame)
    assert isinstance(make_processor(single, batch=4).inner, PerFrame)  # the stage by default
    fused = make_processor(single, batch=4, temporal=2)
    assert isinstance(fused, TemporalFusion) and isinstance(fused.inner, PerFrame)
    with pytest.raises(ValueError, match="not a video model"):
        ClipProcessor(single)


def test_odd_sizes_and_row_bands(small_s2vd):
    frames = _frames(5, height=75, width=21)  # odd: padded to even by repeating the last row / column
    whole = _whole(small_s2vd, frames)
    assert whole.shape == (5, 75, 21, 3)
    banded = Derainer.from_network(small_s2vd.network, device="cpu", tile=32)  # bands of 32 rows: exact
    assert np.abs(np.stack(banded.derain_clip(frames)).astype(int) - whole).max() <= 1


def test_a_video_model_refuses_images(small_s2vd):
    with pytest.raises(UsageError, match="^S2VD is a video model: use derain video$"):
        small_s2vd(_frames(1)[0])
    with pytest.raises(UsageError, match="video model"):
        small_s2vd.derain_batch(_frames(2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fp16_on_cuda_stays_close_to_fp32():
    weights = shared_file("weights/s2vd_nturain.pt")
    frames = [read_rgb8(shared_file(f"data/video/nturain_a1/input/{k:05d}.jpg")) for k in range(1, 9)]
    fp32 = np.stack(Derainer("s2vd", weights, device="cuda", precision="fp32").derain_clip(frames)).astype(int)
    fp16 = np.stack(Derainer("s2vd", weights, device="cuda", precision="auto").derain_clip(frames)).astype(int)
    assert np.abs(fp16 - fp32).mean() < 0.5


def test_auto_precision_takes_bf16_where_the_cpu_has_it():
    """bf16 costs S2VD 0.025 dB on NTURain a1 (under the 0.05 dB bound): auto takes it on native-bf16 CPUs."""
    derainer = Derainer("s2vd", shared_file("weights/s2vd_nturain.pt"), device="cpu")
    assert derainer.dtype == (torch.bfloat16 if runs_bf16_fast() else torch.float32)
