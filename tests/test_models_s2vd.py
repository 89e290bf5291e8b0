"""S2VD: the network against a functional reference written from the authors' code, exact row bands,
the authors' checkpoint on real NTURain frames."""

import numpy as np
import pytest
import torch
from reference_s2vd import reference_s2vd, shuffle, unshuffle

from conftest import shared_file
from derain_cli.checkpoints import load_into, load_state_dict
from derain_cli.imageio import read_rgb8
from derain_cli.models import create_model, is_video_model, is_video_network
from derain_cli.models.s2vd import BandPlan, in_bands, pixel_shuffle_3d, pixel_unshuffle_3d
from derain_cli.weights.convert import detect_architecture

CROPS = ((120, 200), (20, 560), (400, 400))  # top-left corners of 64 x 64 crops of 640 x 480 frames


def _random_s2vd(blocks: int = 8):
    """Random weights and BatchNorm statistics far from the identity, so a misplaced layer shows."""
    torch.manual_seed(3)
    net = create_model("s2vd", blocks=blocks).eval()
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
            elif name.endswith(("running_mean", "bias")):
                tensor.uniform_(-0.2, 0.2)
            elif tensor.dim() == 5:
                tensor.mul_(0.5)
    return net


def test_pixel_shuffles_follow_the_authors_channel_order():
    x = torch.randn(2, 3, 4, 6, 10)
    packed = pixel_unshuffle_3d(x, 2)
    assert torch.equal(packed, unshuffle(x))
    assert torch.equal(packed[:, 1 * 4 + 2 * 1 + 0, :, 2, 3], x[:, 1, :, 5, 6])  # channel c*4 + 2i + j: pixel (2y+i, 2x+j)
    assert torch.equal(pixel_shuffle_3d(packed, 2), x) and torch.equal(shuffle(packed), x)


def test_forward_matches_the_functional_reference():
    net = _random_s2vd()
    clip = torch.rand(1, 3, 5, 12, 18)
    with torch.no_grad():
        out = net(clip)
        ref = reference_s2vd(clip, net.state_dict())
    assert out.shape == clip.shape
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)
    assert (out - clip).abs().mean() > 0.05  # the random network really changes the clip


def test_row_bands_are_exact():
    net = _random_s2vd(blocks=1)  # rain halo 12 rows: small bands stay cheap
    assert net.rain_halo == 12
    clip = torch.rand(1, 3, 4, 40, 14)
    with torch.no_grad():
        whole = net(clip)
        for plan in (BandPlan(rain=8, tail=6), BandPlan(rain=6, tail=2), BandPlan(rain=0, tail=14)):
            torch.testing.assert_close(net.forward_in_bands(clip, plan), whole, atol=1e-6, rtol=1e-5)


def test_the_rain_halo_is_needed():
    net = _random_s2vd(blocks=1)
    clip = torch.rand(1, 3, 4, 40, 14)
    with torch.no_grad():
        whole = net.rain(clip)
        torch.testing.assert_close(in_bands(net.rain, clip, 8, net.rain_halo), whole, atol=1e-6, rtol=1e-5)
        assert (in_bands(net.rain, clip, 8, 2) - whole).abs().max() > 1e-3


def test_band_plan_follows_the_budget():
    net = create_model("s2vd")
    assert net.rain_halo == 40
    assert net.plan_bands(28, 480, 640, 8 << 30) == BandPlan(0, 0)
    plan = net.plan_bands(28, 480, 640, 1536 << 20)
    assert 0 < plan.rain < 480 and 0 < plan.tail < 480 and plan.rain % 2 == 0 and plan.tail % 2 == 0
    assert net.plan_bands(20, 480, 640, 1536 << 20).tail > plan.tail  # fewer frames: taller bands
    assert net.plan_bands(28, 480, 640, 1536 << 20, itemsize=2).tail > plan.tail  # bf16 halves the activations
    assert net.plan_bands(28, 480, 640, 1).rain == 16  # never below MIN_BAND


def test_video_marker():
    assert is_video_model("s2vd") and not is_video_model("sapnet")
    assert is_video_network(create_model("s2vd")) and not is_video_network(create_model("prenet"))


def test_the_authors_checkpoint_loads_and_is_detected():
    path = shared_file("weights/s2vd_nturain.pt")
    state = load_state_dict(path)
    assert len(state) == 126
    assert detect_architecture(state, str(path)) == "s2vd"
    net = load_into(create_model("s2vd"), path)
    assert sum(p.numel() for p in net.parameters()) == 525260


def test_the_authors_checkpoint_matches_the_reference_on_nturain_frames():
    path = shared_file("weights/s2vd_nturain.pt")
    frames = [read_rgb8(shared_file(f"data/video/nturain_a1/input/{k:05d}.jpg")) for k in range(21, 27)]
    clean = [read_rgb8(shared_file(f"data/video/nturain_a1/target/{k:05d}.jpg")) for k in range(21, 27)]
    net = load_into(create_model("s2vd"), path).eval()
    state = load_state_dict(path)
    for top, left in CROPS:
        crop = np.stack([f[top : top + 64, left : left + 64] for f in frames])
        clip = torch.from_numpy(crop).permute(3, 0, 1, 2)[None].float() / 255
        with torch.no_grad():
            out, ref = net(clip), reference_s2vd(clip, state)
        assert (out - ref).abs().max() < 1e-5
        target = np.stack([f[top : top + 64, left : left + 64] for f in clean]).astype(np.float32) / 255
        derained = out[0].clamp(0, 1).permute(1, 2, 3, 0).numpy()
        streaks = (crop / 255 - target).mean(-1) > 0.08  # rain streaks brighten pixels; measured 1.5-5 % of these crops
        assert streaks.any()
        # the real weights remove rain: on streak pixels the error is cut at least in half (measured: by 3.5 to 7 times)
        assert np.abs(derained - target)[streaks].mean() < 0.5 * np.abs(crop / 255 - target)[streaks].mean()


@pytest.mark.parametrize("options", [{"blocks": 0}, {"features": 4}])
def test_option_ranges_are_declared(options):
    with pytest.raises(Exception, match="must be in"):
        create_model("s2vd", **options)
