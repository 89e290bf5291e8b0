"""The high-order collaborative network (``--model hcn``) and its multi-scale training loss."""

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

from derain_cli.checkpoints import architecture_metadata, save_safetensors
from derain_cli.cli import app
from derain_cli.derainer import build_network
from derain_cli.losses.hcn import hcn_loss
from derain_cli.models import create_model
from derain_cli.models.hcn import CrossScaleAttention, pyr_down

# The authors' model.py (supersupercong/Online-updated-High-order-Collaborative-Networks-for-Single-
# Image-Deraining @ 090c24c, settings channel=20, unit=6) instantiated gives
# sum(p.numel() for p in ODE_DerainNet().parameters()) == 2,068,443.
REFERENCE_PARAMETERS = 2_068_443


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return create_model("hcn")


def _pyramid_shape(h, w):
    return (h + 1) // 2, (w + 1) // 2


def test_parameter_count_equals_the_reference_architecture(net):
    assert sum(p.numel() for p in net.parameters()) == REFERENCE_PARAMETERS


@pytest.mark.parametrize("size", [(37, 29), (5, 7)])
def test_forward_keeps_odd_sizes_and_returns_the_pyramid_estimates(net, size):
    y = torch.rand(2, 3, *size)
    with torch.no_grad():
        final, (middle, bottom, half, quarter) = net.eval()(y)
    assert final.shape == middle.shape == bottom.shape == y.shape
    assert half.shape[-2:] == _pyramid_shape(*size)
    assert quarter.shape[-2:] == _pyramid_shape(*_pyramid_shape(*size))
    assert torch.isfinite(final).all()


def test_gradients_reach_every_parameter_and_match_inference(net):
    torch.manual_seed(1)
    y, clean = torch.rand(2, 2, 3, 45, 43).unbind()
    net.train().zero_grad()
    outputs = net(y)
    total, _ = hcn_loss(outputs, clean)
    total.backward()
    # A PReLU slope's gradient is exactly zero when none of its inputs happens to be negative.
    silent = [name for name, p in net.named_parameters()
              if p.grad is None or not (p.grad.any() or p.numel() == 1)]
    assert not silent, f"no gradient reaches {silent[:5]}"
    with torch.no_grad():  # the fused-attention path used without gradients computes the same function
        final, extras = net.eval()(y)
    for ours, trained in zip([final, *extras], [outputs[0], *outputs[1]]):
        torch.testing.assert_close(ours, trained, atol=1e-5, rtol=1e-5)


def test_cross_scale_attention_matches_patch_matching_and_pasting():
    """The attention equals the paper's formulation: correlate with normalised patches, softmax, paste patches."""
    torch.manual_seed(2)
    attention = CrossScaleAttention(8)
    x, other = torch.rand(1, 8, 6, 5), torch.rand(1, 8, 3, 3)

    def kernels(embed, source):  # every 3x3 patch of embed(source) as a convolution kernel: L x C x 3 x 3
        e = embed(source)
        return F.unfold(e, 3, padding=1).transpose(1, 2).reshape(-1, e.shape[1], 3, 3)

    keys = torch.cat([kernels(attention.key, s) for s in (x, other)])
    values = torch.cat([kernels(attention.value, s) for s in (x, other)])
    keys = keys / keys.flatten(1).norm(dim=1).clamp_min(1e-4)[:, None, None, None]
    scores = torch.softmax(10 * F.conv2d(attention.query(x), keys, padding=1), dim=1)
    expected = x + F.conv_transpose2d(scores, values, padding=1) / 4
    with torch.no_grad():
        torch.testing.assert_close(attention(x, other), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(attention(x, other), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("size", [(33, 20), (16, 9)])
def test_pyr_down_is_opencvs_pyramid_level(size):
    rgb = np.random.default_rng(0).random((*size, 3), dtype=np.float32)
    ours = pyr_down(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, cv2.pyrDown(rgb), atol=1e-6)


def test_safetensors_round_trip_through_build_network_and_the_cli(net, tmp_path):
    path = save_safetensors(net.state_dict(), tmp_path / "model.safetensors", architecture_metadata("hcn"))
    loaded = build_network("hcn", path).eval()
    y = torch.rand(1, 3, 19, 23)
    with torch.no_grad():
        torch.testing.assert_close(loaded(y)[0], net.eval()(y)[0], atol=0, rtol=0)

    src = tmp_path / "rainy.png"
    Image.fromarray(np.random.default_rng(4).integers(0, 256, (19, 23, 3), dtype=np.uint8)).save(src)
    result = CliRunner().invoke(app, ["image", str(src), "-o", str(tmp_path / "out.png"), "--model", "hcn",
                                      "--weights", str(path), "--device", "cpu", "-q"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out.png").size == (23, 19)
