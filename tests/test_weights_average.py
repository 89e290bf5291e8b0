"""`derain weights average`: the tensor-wise mean of checkpoints of one model, and train's --snapshots."""

from __future__ import annotations

import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from derain_cli.checkpoints import architecture_metadata, read_metadata, save_safetensors
from derain_cli.cli import app
from derain_cli.models import create_model

runner = CliRunner()


def _checkpoint(path, seed):
    torch.manual_seed(seed)
    return save_safetensors(create_model("prenet", stages=1).state_dict(), path, architecture_metadata("prenet", {"stages": 1}))


def test_the_average_is_the_tensor_wise_mean_and_keeps_the_architecture(tmp_path):
    paths = [_checkpoint(tmp_path / f"s{k}.safetensors", k) for k in range(3)]
    result = runner.invoke(app, ["weights", "average", *map(str, paths), "-o", str(tmp_path / "mean.safetensors")])
    assert result.exit_code == 0, result.output
    mean, parts = load_file(tmp_path / "mean.safetensors"), [load_file(p) for p in paths]
    for name, tensor in mean.items():
        torch.testing.assert_close(tensor, sum(p[name] for p in parts) / 3)
    assert read_metadata(tmp_path / "mean.safetensors")["options"] == read_metadata(paths[0])["options"]
    assert len(result.output.split()[0]) == 64  # its sha256, as sha256sum prints it


def test_checkpoints_of_different_models_are_refused_in_one_line(tmp_path):
    one = _checkpoint(tmp_path / "a.safetensors", 0)
    torch.manual_seed(0)
    other = save_safetensors(create_model("sapnet", stages=1).state_dict(), tmp_path / "b.safetensors")
    result = runner.invoke(app, ["weights", "average", str(one), str(other), "-o", str(tmp_path / "m.safetensors")])
    assert result.exit_code == 1 and "not in every checkpoint" in result.output
    assert not (tmp_path / "m.safetensors").exists()


def test_train_snapshots_keep_every_model_written(tmp_path):
    from paired_data import write_pairs

    data = write_pairs(tmp_path / "pairs", count=4, size=(40, 40))
    result = runner.invoke(app, ["train", "--dataset", str(data), "--model", "sapnet", "--losses", "l1", "--patch", "32",
                                 "--batch-size", "2", "--max-steps", "2", "--checkpoint-every", "1", "--snapshots",
                                 "--workers", "0", "--device", "cpu", "-q", "-o", str(tmp_path / "run")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "run" / "snapshots").iterdir()) == ["step_000001.safetensors", "step_000002.safetensors"]


def test_weighted_average_is_a_soup_of_two_models(tmp_path):
    a, b = _checkpoint(tmp_path / "a.safetensors", 0), _checkpoint(tmp_path / "b.safetensors", 1)
    result = runner.invoke(app, ["weights", "average", str(a), str(b), "--weights", "0.3,0.7", "-o", str(tmp_path / "s.safetensors")])
    assert result.exit_code == 0, result.output
    soup, first, second = (load_file(p) for p in (tmp_path / "s.safetensors", a, b))
    for name, tensor in soup.items():
        torch.testing.assert_close(tensor, 0.3 * first[name] + 0.7 * second[name])
    bad = runner.invoke(app, ["weights", "average", str(a), str(b), "--weights", "1", "-o", str(tmp_path / "t.safetensors")])
    assert bad.exit_code == 2 and "one per checkpoint" in bad.output


def test_weights_must_be_finite_and_huge_ones_do_not_overflow(tmp_path):
    a, b = _checkpoint(tmp_path / "a.safetensors", 0), _checkpoint(tmp_path / "b.safetensors", 1)
    for bad in ("inf,1", "nan,1", "-1,2"):
        result = runner.invoke(app, ["weights", "average", str(a), str(b), "--weights", bad, "-o", str(tmp_path / "x.safetensors")])
        assert result.exit_code == 2 and "finite non-negative" in result.output, (bad, result.output)
    assert not (tmp_path / "x.safetensors").exists()
    result = runner.invoke(app, ["weights", "average", str(a), str(b), "--weights", "1e308,1e308", "-o", str(tmp_path / "h.safetensors")])
    assert result.exit_code == 0, result.output
    half, first, second = (load_file(p) for p in (tmp_path / "h.safetensors", a, b))
    for name, tensor in half.items():
        torch.testing.assert_close(tensor, (first[name] + second[name]) / 2)


def test_the_output_type_does_not_depend_on_the_order_and_bool_tensors_are_refused(tmp_path):
    a = _checkpoint(tmp_path / "a.safetensors", 0)
    half = save_safetensors({k: v.half() for k, v in load_file(a).items()}, tmp_path / "half.safetensors")
    kinds = []
    for order in ((a, half), (half, a)):
        out = tmp_path / f"m{len(kinds)}.safetensors"
        assert runner.invoke(app, ["weights", "average", *map(str, order), "-o", str(out)]).exit_code == 0
        kinds.append({t.dtype for t in load_file(out).values()})
    assert kinds == [{torch.float32}, {torch.float32}]
    flags = save_safetensors({k: v > 0 for k, v in load_file(a).items()}, tmp_path / "bool.safetensors")
    result = runner.invoke(app, ["weights", "average", str(a), str(flags), "-o", str(tmp_path / "b.safetensors")])
    assert result.exit_code == 1 and "torch.bool" in result.output and "\n" == result.output[-1] and result.output.count("\n") == 1


def test_a_soup_of_some_layers_keeps_the_first_checkpoints_other_tensors(tmp_path):
    a, b = _checkpoint(tmp_path / "a.safetensors", 0), _checkpoint(tmp_path / "b.safetensors", 1)
    first, second = load_file(a), load_file(b)
    prefix = sorted(first)[0].split(".")[0]  # one block of the network
    out = tmp_path / "part.safetensors"
    result = runner.invoke(app, ["weights", "average", str(a), str(b), "--weights", "1,3", "--layers", prefix, "-o", str(out)])
    assert result.exit_code == 0, result.output
    soup = load_file(out)
    assert any(not name.startswith(prefix) for name in soup)  # the test has tensors on both sides
    for name, tensor in soup.items():
        expected = 0.25 * first[name] + 0.75 * second[name] if name.startswith(prefix) else first[name]
        torch.testing.assert_close(tensor, expected)
    assert f"only {prefix}" in read_metadata(out)["averaged"]
    bad = runner.invoke(app, ["weights", "average", str(a), str(b), "--layers", "no_such_block", "-o", str(tmp_path / "x.safetensors")])
    assert bad.exit_code == 2 and "'no_such_block': no tensor of" in bad.output and str(a) in bad.output
    assert prefix in bad.output.split("its blocks: ")[1]  # what it could have been
    assert not (tmp_path / "x.safetensors").exists()
