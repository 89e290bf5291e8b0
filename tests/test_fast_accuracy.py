"""The fast paths on real Rain100H images with the authors' weights."""

import numpy as np
import pytest
import torch
from PIL import Image

from derain_cli import Derainer
from derain_cli.metrics import psnr_y

IMAGES = ("7.png", "42.png")


def _load(path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return np.rint(x.clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize("model,fixture", [("sapnet", "sapnet_weights"), ("prenet", "prenet_weights")])
def test_fast_path_is_within_one_grey_level_of_the_plain_forward(model, fixture, rain100h, request):
    derainer = Derainer(model, weights=request.getfixturevalue(fixture), device="cpu")
    assert derainer._fast is not None
    for name in IMAGES:
        rgb = _load(rain100h / "input" / name)
        with torch.inference_mode():
            plain = _to_uint8(derainer.network(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[0])
        fast = derainer(rgb)
        assert int(np.abs(fast.astype(int) - plain.astype(int)).max()) <= 1, name


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
