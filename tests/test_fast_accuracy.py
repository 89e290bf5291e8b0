"""The fast paths on real Rain100H images with the authors' weights."""

import numpy as np
import pytest
import torch
from PIL import Image

from derain_cli import Derainer
from derain_cli.fast import onednn, precision
from derain_cli.metrics import psnr_rgb, psnr_y

IMAGES = ("7.png", "42.png")


def _load(path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return np.rint(x.clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize("model,fixture", [("sapnet", "sapnet_weights"), ("prenet", "prenet_weights")])
def test_fast_path_is_within_one_grey_level_of_the_plain_forward(model, fixture, rain100h, request):
    derainer = Derainer(model, weights=request.getfixturevalue(fixture), device="cpu", precision="fp32")
    assert derainer._fast is not None
    for name in IMAGES:
        rgb = _load(rain100h / "input" / name)
        with torch.inference_mode():
            plain = _to_uint8(derainer.network(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[0])
        fast = derainer(rgb)
        assert int(np.abs(fast.astype(int) - plain.astype(int)).max()) <= 1, name


def _plain(derainer: Derainer, rgb: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return _to_uint8(derainer.network(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[0])


@pytest.mark.slow
@pytest.mark.skipif(not onednn.available(torch.bfloat16), reason="no oneDNN bf16 on this CPU / build")
def test_bf16_fast_path_stays_within_the_psnr_bound_of_the_plain_pass(sapnet_weights, rain100h):
    derainer = Derainer("sapnet", weights=sapnet_weights, device="cpu", precision="bf16")
    assert derainer._fast.dtype == torch.bfloat16
    for name in IMAGES:
        rgb, clean = _load(rain100h / "input" / name), _load(rain100h / "target" / name)
        plain, fast = _plain(derainer, rgb), derainer(rgb)
        assert abs(psnr_y(fast, clean) - psnr_y(plain, clean)) <= 0.05, name  # measured: 0.00-0.02 dB
        assert 45 <= psnr_rgb(fast, plain) < 100, name  # bf16 rounding shows, and stays small


def test_auto_runs_fp32_where_the_cpu_has_no_fast_bf16(sapnet_weights, monkeypatch):
    monkeypatch.setattr(precision.cpu_bf16, "runs_bf16_fast", lambda: False)
    derainer = Derainer("sapnet", weights=sapnet_weights, device="cpu")
    assert derainer.dtype == torch.float32 and getattr(derainer._fast, "dtype", torch.float32) == torch.float32
    monkeypatch.setattr(precision.cpu_bf16, "runs_bf16_fast", lambda: True)
    assert Derainer("sapnet", weights=sapnet_weights, device="cpu").dtype == (
        torch.bfloat16 if onednn.available(torch.bfloat16) else torch.float32
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (half precision is the CUDA default)")
@pytest.mark.parametrize("model,fixture", [("sapnet", "sapnet_weights"), ("prenet", "prenet_weights")])
def test_cuda_half_precision_stays_within_0_05_db_of_fp32(model, fixture, rain100h, request):
    weights = request.getfixturevalue(fixture)
    half = Derainer(model, weights=weights, device="cuda")
    full = Derainer(model, weights=weights, device="cuda", precision="fp32")
    assert half.dtype == torch.float16
    scores = {"half": [], "full": []}
    for k in range(1, 21):
        rgb, clean = _load(rain100h / "input" / f"{k}.png"), _load(rain100h / "target" / f"{k}.png")
        scores["half"].append(psnr_y(half(rgb), clean))
        scores["full"].append(psnr_y(full(rgb), clean))
    assert abs(np.mean(scores["half"]) - np.mean(scores["full"])) <= 0.05
