"""Memory bounds: exact bands, automatic tiling, and the peak memory of a 1080p photo."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from derain_cli import Derainer
from derain_cli.metrics import psnr_rgb
from derain_cli.tiling import tiled_forward

PEAK_LIMIT = 2.5e9  # bytes, for the whole process


def _photo(rain100h, name: str, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.open(rain100h / "input" / name).convert("RGB").resize(size, Image.BICUBIC))


@pytest.mark.slow
def test_tiled_output_matches_the_untiled_one_on_a_640x480_photo(sapnet_weights, rain100h):
    rgb = _photo(rain100h, "42.png", (640, 480))
    untiled = Derainer("sapnet", weights=sapnet_weights, device="cpu", tile=0)(rgb)
    tiled = Derainer("sapnet", weights=sapnet_weights, device="cpu", tile=256)(rgb)
    assert psnr_rgb(tiled, untiled) >= 40


def test_tile_size_follows_the_memory_budget(sapnet_weights):
    derainer = Derainer("sapnet", weights=sapnet_weights, device="cpu", precision="fp32")  # bf16 needs less memory
    assert derainer.tile_size(1080, 1920) == 0  # a 1080p photo runs whole, in exact bands
    tile = derainer.tile_size(2160, 3840)  # 4K: overlapping tiles within the budget
    assert 64 <= tile < 2160 and derainer._peak_bytes(tile * tile) <= derainer.memory_budget
    assert derainer._peak_bytes((tile + 8) ** 2) > derainer.memory_budget  # the largest that fits
    assert Derainer("sapnet", weights=sapnet_weights, device="cpu", tile=0).tile_size(2160, 3840) == 0


def test_tiled_forward_blends_tiles_seamlessly_for_a_local_operator():
    torch.manual_seed(0)
    weight = torch.randn(3, 3, 5, 5)  # receptive field 2 pixels: tiles agree wherever they are blended

    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(x, weight, padding=2)

    x = torch.rand(1, 3, 70, 97)
    torch.testing.assert_close(tiled_forward(forward, x, 32, 8, batch_size=3), forward(x), atol=1e-5, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak memory from /proc")
def test_a_1080p_photo_stays_within_2_5_gb(sapnet_weights, rain100h, tmp_path):
    source = tmp_path / "photo.png"
    Image.fromarray(_photo(rain100h, "7.png", (1920, 1080))).save(source)
    script = textwrap.dedent(
        f"""
        import numpy as np
        from PIL import Image
        from derain_cli import Derainer
        rgb = np.asarray(Image.open({str(source)!r}).convert("RGB"))
        out = Derainer("sapnet", weights={str(sapnet_weights)!r}, device="cpu")(rgb)
        assert out.shape == rgb.shape and out.std() > 1
        # VmHWM, not ru_maxrss: that one would include the parent's memory (inherited through exec)
        print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0])
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) * 1024 <= PEAK_LIMIT
