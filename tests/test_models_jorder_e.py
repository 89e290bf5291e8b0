"""JORDER-E: the network against a functional reference of the authors' practical model."""

import numpy as np
import pytest
import torch
from PIL import Image

from derain_cli import Derainer
from derain_cli.checkpoints import load_state_dict
from derain_cli.models import create_model
from reference_jorder_e import reference_jorder_e

from conftest import shared_file

IMAGES = ("7.png", "42.png")
CROP = 160  # the full 481 x 321 images take ~15 s each on a loaded 2-core machine


def test_forward_matches_the_functional_reference():
    torch.manual_seed(0)
    net = create_model("jorder-e").eval()
    with torch.no_grad():
        for p in net.parameters():  # the authors' start makes some encoders constant: randomise all
            p.normal_(0, 0.05)
        rgb = torch.rand(1, 3, 21, 26)
        out, (first, mask, level) = net(rgb)
        ref = reference_jorder_e(rgb * 255, net.state_dict()) / 255
    assert out.shape == first.shape == rgb.shape
    assert mask.shape == (1, 2, 21, 26) and level.shape == (1, 3, 21, 26)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", IMAGES)
def test_the_authors_checkpoint_reproduces_the_reference_on_rain100h(name):
    weights = shared_file("weights/jordere_practical.pt")
    rgb = np.asarray(Image.open(shared_file(f"data/rain100h/input/{name}")).convert("RGB"))[:CROP, :CROP]
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        ref = reference_jorder_e(x, load_state_dict(weights)).clamp(0, 255).round()[0].permute(1, 2, 0).numpy()
    ours = Derainer("jorder-e", weights=weights, device="cpu", tile=0)(rgb)
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1
    assert np.abs(ours.astype(int) - rgb.astype(int)).mean() > 1  # it changed the image
