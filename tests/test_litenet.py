"""LiteNet (derain_cli.models.litenet) and its fast path (derain_cli.fast.lite): shapes, identity start,
checkpoint detection, fp32 results untouched by the fast path, bf16 close to them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from derain_cli import Derainer
from derain_cli.checkpoints import architecture_metadata, save_safetensors
from derain_cli.derainer import DEFAULT_CPU_BUDGET
from derain_cli.errors import DerainError
from derain_cli.fast import LiteFast, accelerate, serves_bf16
from derain_cli.models import create_model
from derain_cli.weights.convert import detect_architecture


def _trained_like(seed: int = 0, **options: int) -> torch.nn.Module:
    """A LiteNet whose output layer is not zero (a fresh one returns its input unchanged)."""
    torch.manual_seed(seed)
    net = create_model("litenet", **options)
    torch.nn.init.normal_(net.lite_tail.weight, std=0.02)
    return net.eval()


@pytest.mark.parametrize("size", [(32, 48), (37, 50), (33, 33)])
def test_forward_keeps_any_size(size: tuple[int, int]) -> None:
    net = _trained_like(scale=4, channels=8, blocks=1)
    x = torch.rand(2, 3, *size)
    y, stages = net(x)
    assert y.shape == x.shape and stages == []
    assert not torch.equal(y, x)


def test_a_fresh_network_returns_its_input() -> None:
    x = torch.rand(1, 3, 20, 30)
    assert torch.equal(create_model("litenet")(x)[0], x)


def test_options_outside_their_range_are_refused() -> None:
    with pytest.raises(DerainError, match="scale"):
        create_model("litenet", scale=5)
    with pytest.raises(DerainError, match="channels"):
        create_model("litenet", channels=512)


def test_its_checkpoints_are_detected_as_litenet() -> None:
    state = create_model("litenet", channels=16, blocks=2).state_dict()
    assert detect_architecture(create_model("litenet").state_dict(), "lite") == "litenet"
    with pytest.raises(DerainError):  # other options: fits no architecture with default options
        detect_architecture(state, "lite16")


@torch.inference_mode()
def test_fp32_fast_path_is_the_plain_forward_pass() -> None:
    net = _trained_like()
    fast = accelerate(net, torch.device("cpu"), torch.float32)
    assert isinstance(fast, LiteFast)
    x = torch.rand(1, 3, 40, 56)
    assert torch.equal(fast(x), net(x)[0])


@pytest.mark.skipif(not serves_bf16(create_model("litenet")), reason="no native bf16 (oneDNN) on this CPU")
@torch.inference_mode()
def test_bf16_fast_path_is_close_to_fp32() -> None:
    net = _trained_like(1)
    x = torch.rand(1, 3, 64, 80)
    reference = net(x)[0].clone()
    fast = accelerate(net, torch.device("cpu"), torch.bfloat16)
    difference = (fast(x) - reference).abs()
    assert difference.max() < 0.02 and difference.mean() < 0.002
    assert fast.peak_bytes(1920 * 1080) < DEFAULT_CPU_BUDGET  # a 1080p frame is not tiled


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@torch.inference_mode()
def test_cuda_fp16_is_close_to_fp32() -> None:
    net = _trained_like(2)
    x = torch.rand(1, 3, 64, 80)
    reference = net(x)[0]
    fast = accelerate(net.cuda(), torch.device("cuda"), torch.float16)
    assert (fast(x.cuda()).cpu() - reference).abs().max() < 0.01


def test_derainer_runs_a_litenet_checkpoint(tmp_path: Path) -> None:
    net = _trained_like(3)
    path = save_safetensors(net.state_dict(), tmp_path / "lite.safetensors", architecture_metadata("litenet"))
    rgb = np.random.default_rng(0).integers(0, 256, (45, 61, 3), dtype=np.uint8)
    derainer = Derainer("litenet", path, device="cpu", precision="fp32")
    with torch.inference_mode():
        expected = net(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[0]
    expected = expected.clamp(0, 1)[0].permute(1, 2, 0).mul(255).round().to(torch.uint8).numpy()
    assert np.array_equal(derainer(rgb), expected)
    assert derainer.tile_size(1080, 1920) == 0
