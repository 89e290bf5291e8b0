import pytest
import torch

from derain_cli.checkpoints import (
    architecture_metadata, load_into, load_state_dict, read_metadata, save_safetensors,
)
from derain_cli.errors import CheckpointMismatchError, DerainError
from derain_cli.models import create_model


@pytest.fixture
def net():
    torch.manual_seed(1)
    return create_model("sapnet")


def _same_weights(a, b):
    return all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_pth_with_data_parallel_prefix_loads(tmp_path, net):
    path = tmp_path / "dp.pth"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, path)
    assert _same_weights(load_into(create_model("sapnet"), path), net)


def test_plain_and_wrapped_pth_load(tmp_path, net):
    plain, wrapped = tmp_path / "plain.pth", tmp_path / "wrapped.pth"
    torch.save(net.state_dict(), plain)
    torch.save({"state_dict": net.state_dict(), "epoch": 3}, wrapped)
    for path in (plain, wrapped):
        assert _same_weights(load_into(create_model("sapnet"), path), net)


def test_safetensors_round_trip_keeps_authors_names_and_metadata(tmp_path, net):
    path = save_safetensors(net.state_dict(), tmp_path / "m.safetensors", architecture_metadata("sapnet"))
    assert set(load_state_dict(path)) == set(net.state_dict())
    assert read_metadata(path)["architecture"] == "sapnet"
    assert _same_weights(load_into(create_model("sapnet"), path), net)


def test_authors_sapnet_checkpoint_loads(sapnet_weights):
    state = load_state_dict(sapnet_weights)
    assert not any(k.startswith("module.") for k in state)
    load_into(create_model("sapnet"), sapnet_weights)


def test_prenet_checkpoint_is_refused_by_sapnet_naming_the_tensor(prenet_weights):
    with pytest.raises(CheckpointMismatchError, match=r"res_conv1\.1\.conv_du\.0\.weight"):
        load_into(create_model("sapnet"), prenet_weights)


def test_shape_mismatch_names_tensor_and_shapes(tmp_path, net):
    state = net.state_dict()
    state["conv.0.weight"] = torch.zeros(4, 32, 3, 3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError, match=r"'conv\.0\.weight' has shape \(4, 32, 3, 3\), expected \(3, 32, 3, 3\)"):
        load_into(create_model("sapnet"), path)


def test_unexpected_tensor_is_named(tmp_path, net):
    state = dict(net.state_dict(), extra=torch.zeros(1))
    path = tmp_path / "extra.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError, match="unexpected tensor 'extra'"):
        load_into(create_model("sapnet"), path)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_junk_and_missing_files_give_one_line_errors(tmp_path, suffix):
    junk = tmp_path / f"junk{suffix}"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(DerainError, match="not a readable checkpoint") as info:
        load_state_dict(junk)
    assert str(junk) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DerainError, match="not found"):
        load_state_dict(tmp_path / f"missing{suffix}")


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(1), "f": print}, path)
    with pytest.raises(DerainError, match=r"not a readable checkpoint \(it holds pickled code \(.*print\), which is never run\)") as caught:
        load_state_dict(path)
    assert "weights_only" not in str(caught.value)  # torch's advice to load it unsafely is not passed on



@pytest.mark.parametrize("dtype", [torch.bool, torch.int8, torch.uint8, torch.complex64])
def test_only_floating_point_weights_load_and_convert(tmp_path, net, dtype):
    from typer.testing import CliRunner

    from derain_cli.cli import app

    path = tmp_path / "w.safetensors"
    save_safetensors({k: (v * 100).to(dtype) for k, v in net.state_dict().items()}, path, architecture_metadata("sapnet"))
    with pytest.raises(CheckpointMismatchError, match=f"holds {dtype} values, expected floating-point"):
        load_into(create_model("sapnet"), path)
    result = CliRunner().invoke(app, ["weights", "convert", str(path), str(tmp_path / "c.safetensors"), "--model", "sapnet"])
    assert result.exit_code == 1 and "floating-point" in result.output and not (tmp_path / "c.safetensors").exists()


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
def test_half_and_double_weights_still_load(tmp_path, net, dtype):
    path = save_safetensors({k: v.to(dtype) for k, v in net.state_dict().items()}, tmp_path / "w.safetensors")
    loaded = load_into(create_model("sapnet"), path).state_dict()
    for name, tensor in net.state_dict().items():
        torch.testing.assert_close(loaded[name], tensor.to(dtype).float())
