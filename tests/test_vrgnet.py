"""VRGNet's PReNet: the package (fast path and plain forward) against the authors' forward pass."""

import pytest
import torch

from conftest import shared_file
from derain_cli.checkpoints import load_into
from derain_cli.errors import CheckpointMismatchError
from derain_cli.fast import accelerate
from derain_cli.models import create_model
from zoo_checks import max_grey_level_difference
from zoo_reference import vrgnet_prenet


@pytest.mark.slow
def test_reproduces_the_authors_forward_on_rain100h(rain100h):
    weights = shared_file("weights/vrgnet_prenet_rain100h.pt")
    assert max_grey_level_difference("vrgnet-prenet", weights, rain100h, vrgnet_prenet) <= 1


def test_plain_and_fast_forward_use_convfinal_in_the_last_stage():
    torch.manual_seed(0)
    net = create_model("vrgnet-prenet").eval()
    y = torch.rand(1, 3, 24, 40)
    state = {"derainet." + k: v for k, v in net.state_dict().items()}
    with torch.no_grad():
        plain = net(y)[0]
        fast = accelerate(net, torch.device("cpu"), torch.float32)(y)
    assert torch.allclose(plain, vrgnet_prenet(y, state), atol=1e-5)
    assert torch.allclose(fast, plain, atol=1e-4)


def test_a_prenet_checkpoint_is_refused_naming_convfinal():
    weights = shared_file("weights/prenet_rain100h_authors.pth")
    with pytest.raises(CheckpointMismatchError, match="'convfinal.0.weight'.*missing"):
        load_into(create_model("vrgnet-prenet"), weights)
