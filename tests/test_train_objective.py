"""Building a run's loss terms: frozen networks built once, weights from --loss-weights or the registry (HTTP on 127.0.0.1)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from derain_cli.errors import UsageError
from derain_cli.losses import LPIPSLoss, PerceptualContrastiveLoss, UBSLoss
from derain_cli.train import TrainConfig
from derain_cli.train.objective import HCNObjective, build_objective
from derain_cli.weights.download import WeightsUnavailableError
from loss_standins import lpips_file, vgg_file  # noqa: F401  (fixtures)
from test_weights_download import FileServer

CPU = torch.device("cpu")


def _config(**options: object) -> TrainConfig:
    return TrainConfig(dataset="unused", **options)


def test_all_paper_losses_share_one_vgg(vgg_file: Path, lpips_file: Path) -> None:
    config = _config(loss_weights={"vgg16-imagenet": str(vgg_file), "lpips-vgg": str(lpips_file)})
    objective = build_objective(config, CPU)
    modules = {term.name: term.module for term in objective.terms}
    assert list(modules) == ["ssim", "pcl", "lpips", "ubs"]
    assert [term.weight for term in objective.terms] == [1.0, 0.1, 0.1, 0.1]
    pcl, lpips, ubs = modules["pcl"], modules["lpips"], modules["ubs"]
    assert isinstance(pcl, PerceptualContrastiveLoss) and isinstance(lpips, LPIPSLoss) and isinstance(ubs, UBSLoss)
    assert pcl.vgg is lpips.vgg is ubs.vgg
    assert pcl.vgg.layers[-1] == "relu5_3"


def test_ssim_alone_loads_no_network() -> None:
    objective = build_objective(_config(losses={"ssim": 1.0}), CPU)
    assert [term.name for term in objective.terms] == ["ssim"]


def test_hcn_adds_its_own_recipe() -> None:
    objective = build_objective(_config(model="hcn", losses={"ssim": 1.0}), CPU)
    assert [term.name for term in objective.terms] == ["hcn", "ssim"]
    assert isinstance(objective.terms[0].module, HCNObjective)


def test_unknown_loss_network_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="vgg19"):
        build_objective(_config(loss_weights={"vgg19": "x.pth"}), CPU)


def test_weights_come_from_the_registry_verified(
    vgg_file: Path, lpips_file: Path, hf_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"/vgg16.safetensors": vgg_file.read_bytes(), "/lpips.pth": lpips_file.read_bytes()}
    server = FileServer(files)
    try:
        toml = tmp_path / "weights.toml"
        toml.write_text("".join(
            f'[models.{name}]\narchitecture = "loss-network"\n[[models.{name}.sources]]\n'
            f'url = "{server.url}{path}"\nfilename = "{path[1:]}"\nsha256 = "{hashlib.sha256(files[path]).hexdigest()}"\n\n'
            for name, path in (("vgg16-imagenet", "/vgg16.safetensors"), ("lpips-vgg", "/lpips.pth"))
        ))  # fmt: skip
        monkeypatch.setenv("DERAIN_WEIGHTS_TOML", str(toml))
        objective = build_objective(_config(losses={"pcl": 0.1, "lpips": 0.1}), CPU)
        assert sorted(path for _, path, _ in server.log) == ["/lpips.pth", "/vgg16.safetensors"]
    finally:
        server.close()
    vgg = objective.terms[0].module.vgg
    assert torch.equal(vgg.features[0].weight, load_file(str(vgg_file))["features.0.weight"])


def test_offline_without_a_copy_says_how_to_supply_one(hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsUnavailableError, match="vgg16-imagenet") as caught:
        build_objective(_config(losses={"pcl": 0.1}), CPU)
    message = str(caught.value)
    assert "pass --loss-weights vgg16-imagenet=PATH" in message and "pass --weights PATH" not in message
