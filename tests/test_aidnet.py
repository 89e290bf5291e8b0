"""AIDNet: the package against the authors' forward pass (AID_location135), and its checkpoint detection."""

import pytest
import torch

from conftest import shared_file
from derain_cli.checkpoints import load_into
from derain_cli.errors import CheckpointMismatchError
from derain_cli.models import create_model
from zoo_checks import max_grey_level_difference
from zoo_reference import brn


def _aidnet(y, state, stages=8):
    return brn(y, state, stages=stages, attention=True)


@pytest.mark.slow
def test_reproduces_the_authors_forward_on_rain100h(rain100h):
    weights = shared_file("weights/aidnet_rain100h.pth")
    assert max_grey_level_difference("aidnet", weights, rain100h, _aidnet) <= 1


def test_random_weights_match_the_reference():
    torch.manual_seed(0)
    net = create_model("aidnet", stages=2)
    bn = net.cbam_module.SpatialGate.spatial.bn
    bn.running_mean.fill_(0.3)  # non-trivial statistics: eval mode must use them
    bn.running_var.fill_(2.0)
    net.eval()
    y = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        assert torch.allclose(net(y)[0], _aidnet(y, net.state_dict(), stages=2), atol=1e-5)


def test_a_brn_checkpoint_is_refused_naming_the_attention_tensor():
    weights = shared_file("weights/brn_rain100h.pth")
    with pytest.raises(CheckpointMismatchError, match="'cbam_module.ChannelGate.mlp.1.weight'.*missing"):
        load_into(create_model("aidnet"), weights)


def test_the_rain100l_file_is_refused_its_attention_is_not_in_the_published_code():
    # aidnet_rain100l.pth holds an SE block (seblock.fc.*) where the Rain100H file has cbam_module;
    # the authors' code at de1a7f0 defines no seblock, so there is no forward pass to port.
    weights = shared_file("weights/aidnet_rain100l.pth")
    with pytest.raises(CheckpointMismatchError, match="'cbam_module.ChannelGate.mlp.1.weight'.*missing"):
        load_into(create_model("aidnet"), weights)
