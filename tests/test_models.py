import pytest
import torch

from derain_cli.errors import UsageError
from derain_cli.models import create_model, list_models
from reference_forward import reference_forward


def test_registry_lists_both_architectures():
    assert {"sapnet", "prenet"} <= set(list_models())


def test_unknown_model_is_a_usage_error_listing_known_names():
    with pytest.raises(UsageError, match="sapnet"):
        create_model("no-such-net")


@pytest.mark.parametrize("name,params", [("sapnet", 180_483), ("prenet", 168_963)])
def test_parameter_counts_match_the_papers_checkpoints(name, params):
    assert sum(p.numel() for p in create_model(name).parameters()) == params


@pytest.mark.parametrize("name", ["sapnet", "prenet"])
@pytest.mark.parametrize("size", [(17, 23), (32, 32)])
def test_forward_keeps_shape_and_returns_every_stage(name, size):
    net = create_model(name).eval()
    y = torch.rand(2, 3, *size)
    with torch.no_grad():
        out, stages = net(y)
    assert out.shape == y.shape
    assert len(stages) == 6 and stages[-1] is out


@pytest.mark.parametrize("name", ["sapnet", "prenet"])
def test_forward_matches_the_functional_reference(name):
    torch.manual_seed(0)
    net = create_model(name).eval()
    y = torch.rand(1, 3, 24, 20)
    with torch.no_grad():
        ours = net(y)[0]
        ref = reference_forward(y, net.state_dict(), sapnet=name == "sapnet")
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_prenet_real_photo_variant_matches_the_authors_graph():
    torch.manual_seed(1)
    net = create_model("prenet", stages=4, lstm_last=True, residual=False).eval()
    assert sum(p.numel() for p in net.parameters()) == 168_963  # same tensors as PReNet
    y = torch.rand(1, 3, 21, 18)
    with torch.no_grad():
        out, stages = net(y)
        ref = reference_forward(y, net.state_dict(), sapnet=False, stages=4, real_photo_graph=True)
        default = reference_forward(y, net.state_dict(), sapnet=False, stages=4)
    assert len(stages) == 4
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    assert (out - default).abs().max() > 1e-2  # the variant really is another graph


def test_sapnet_tensor_names_are_the_authors(sapnet_weights):
    names = [line.split()[0].removeprefix("module.") for line in
             sapnet_weights.with_name("sapnet_rain100h_authors.keys.txt").read_text().splitlines()]
    assert sorted(create_model("sapnet").state_dict()) == sorted(names)
