"""SPANet: the torch IRNN against the authors' kernel, and the network against a functional reference."""

import numpy as np
import pytest
import torch
from PIL import Image

from derain_cli import Derainer
from derain_cli.checkpoints import load_into, load_state_dict
from derain_cli.errors import CheckpointMismatchError
from derain_cli.models import create_model
from derain_cli.models.spanet import SpatialIRNN
from reference_spanet import irnn_per_pixel, irnn_sweep, reference_spanet

from conftest import shared_file

IMAGES = ("7.png", "42.png")
CROP = 96  # the IRNN loops over every row and column: a crop keeps the reference fast


def _random_irnn(channels: int) -> SpatialIRNN:
    irnn = SpatialIRNN(channels)
    with torch.no_grad():
        for p in irnn.parameters():
            p.uniform_(-0.6, 0.9)
    return irnn


def test_irnn_equals_the_authors_per_pixel_kernel():
    torch.manual_seed(0)
    irnn = _random_irnn(5)
    x = torch.randn(1, 5, 6, 8)
    with torch.no_grad():
        ours = irnn(x)
    sd = {f"i.{k}": v for k, v in irnn.state_dict().items()}
    for got, kernel, sweep in zip(ours, irnn_per_pixel(x, sd, "i."), irnn_sweep(x, sd, "i.")):
        torch.testing.assert_close(got, kernel, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(sweep, kernel, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(ours[0], ours[2])  # up and down really run opposite ways


def test_irnn_keeps_float32_inside_a_half_precision_forward():
    torch.manual_seed(1)
    irnn = _random_irnn(4)
    x = torch.randn(1, 4, 6, 40)
    with torch.no_grad():
        full = irnn(x)
        half = irnn(x.bfloat16())
    for f, h in zip(full, half):
        assert h.dtype == torch.bfloat16
        torch.testing.assert_close(h.float(), f, atol=0.05, rtol=0.02)


def test_forward_matches_the_functional_reference():
    torch.manual_seed(2)
    net = create_model("spanet").eval()
    rgb = torch.rand(1, 3, 19, 23)
    with torch.no_grad():
        out, attention = net(rgb)
        ref = reference_spanet(rgb.flip(1), net.state_dict()).flip(1)
    assert out.shape == rgb.shape and attention.shape == (1, 1, 19, 23)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_a_checkpoint_missing_a_tensor_is_refused_by_name(tmp_path):
    state = load_state_dict(shared_file("weights/spanet_spa.pth"))
    del state["SAM1.irnn2.left_weight.bias"]
    torch.save({"net": state}, tmp_path / "cut.pth")
    with pytest.raises(CheckpointMismatchError, match="SAM1.irnn2.left_weight.bias"):
        load_into(create_model("spanet"), tmp_path / "cut.pth")


@pytest.mark.parametrize("name", IMAGES)
def test_the_authors_checkpoint_reproduces_the_reference_on_rain100h(name):
    weights = shared_file("weights/spanet_spa.pth")
    rgb = np.asarray(Image.open(shared_file(f"data/rain100h/input/{name}")).convert("RGB"))[:CROP, :CROP]
    bgr = torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1])).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        ref = reference_spanet(bgr, load_state_dict(weights)).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    ref = np.rint(ref[..., ::-1] * 255).astype(int)
    ours = Derainer("spanet", weights=weights, device="cpu", tile=0)(rgb)
    assert np.abs(ours.astype(int) - ref).max() <= 1
    assert np.abs(ours.astype(int) - rgb.astype(int)).mean() > 1  # it changed the image


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_irnn_on_cuda_equals_the_cpu():
    torch.manual_seed(3)
    irnn = _random_irnn(8)
    x = torch.randn(2, 8, 33, 47)
    with torch.no_grad():
        cpu = irnn(x)
        cuda = irnn.cuda()(x.cuda())
    for a, b in zip(cpu, cuda):
        torch.testing.assert_close(b.cpu(), a, atol=1e-4, rtol=1e-4)
