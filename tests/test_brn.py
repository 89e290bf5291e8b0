"""BRN: the package against the authors' forward pass, and its checkpoint detection."""

import pytest
import torch

from conftest import shared_file
from derain_cli.checkpoints import load_into
from derain_cli.errors import CheckpointMismatchError
from derain_cli.models import create_model
from zoo_checks import max_grey_level_difference
from zoo_reference import brn


@pytest.mark.slow
def test_reproduces_the_authors_forward_on_rain100h(rain100h):
    weights = shared_file("weights/brn_rain100h.pth")
    assert max_grey_level_difference("brn", weights, rain100h, brn) <= 1


def test_random_weights_match_the_reference_and_keep_the_unused_rain_blocks():
    torch.manual_seed(0)
    net = create_model("brn", stages=3).eval()
    assert "res_conv5_r.2.weight" in net.state_dict()  # built (and saved) by the authors, never run
    y = torch.rand(2, 3, 20, 28)
    with torch.no_grad():
        assert torch.allclose(net(y)[0], brn(y, net.state_dict(), stages=3), atol=1e-5)


def test_an_aidnet_checkpoint_is_refused_naming_its_attention():
    weights = shared_file("weights/aidnet_rain100h.pth")
    with pytest.raises(CheckpointMismatchError, match="unexpected tensor 'cbam_module"):
        load_into(create_model("brn"), weights)
