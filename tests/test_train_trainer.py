"""The training loop through its Python API: run folder, logging, schedule, validation, exact resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from derain_cli.checkpoints import load_state_dict, read_metadata
from derain_cli.errors import DerainError, UsageError
from derain_cli.train import TrainConfig, Trainer
from derain_cli.train.run import RunFolder
from paired_data import write_pairs


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("pairs"), count=6, size=(40, 36))


def _config(data: Path, **options: object) -> TrainConfig:
    defaults = {"losses": {"ssim": 1.0}, "batch_size": 2, "patch": 32, "workers": 0, "device": "cpu"}
    return TrainConfig(dataset=str(data), **{**defaults, **options})


def _train(config: TrainConfig, run: Path, resume: bool = False) -> Trainer:
    trainer = Trainer(config, run, resume=resume)
    trainer.run()
    return trainer


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_run_folder_contents(data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer = _train(_config(data, max_steps=2, model="prenet"), run)
    assert trainer.plan.steps_per_epoch == 3 and trainer.plan.total_steps == 2
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["model"] == "prenet" and config["options"]["max_steps"] == 2
    assert config["versions"]["torch"] == torch.__version__
    assert "git_commit" in config
    records = _records(run)
    assert [r["step"] for r in records] == [1, 2]
    assert all(math.isfinite(r["loss"]) and r["loss"] == pytest.approx(r["ssim"]) for r in records)
    assert read_metadata(run / "model.safetensors")["architecture"] == "prenet"
    checkpoint = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert checkpoint["step"] == 2
    assert set(checkpoint) >= {"model", "optimizer", "scheduler", "rng"}
    for name, tensor in load_state_dict(run / "model.safetensors").items():
        assert torch.equal(tensor, checkpoint["model"][name])


def test_resume_gives_the_weights_of_an_uninterrupted_run(data: Path, tmp_path: Path) -> None:
    straight, split = tmp_path / "straight", tmp_path / "split"
    _train(_config(data, max_steps=4, patch=24), straight)
    _train(_config(data, max_steps=2, patch=24), split)
    resumed = RunFolder(split).saved_config().resumed_with({"max_steps": 4})
    trainer = _train(resumed, split, resume=True)
    assert trainer.plan.start_step == 2
    assert [r["step"] for r in _records(split)] == [1, 2, 3, 4]
    a, b = (torch.load(run / "checkpoints" / "last.pt", weights_only=True) for run in (straight, split))
    for name in a["model"]:
        assert torch.allclose(a["model"][name], b["model"][name], rtol=1e-5, atol=1e-7), name
    first_state = next(iter(a["optimizer"]["state"].values()))["exp_avg"]
    assert torch.allclose(first_state, next(iter(b["optimizer"]["state"].values()))["exp_avg"], atol=1e-7)
    assert [r["loss"] for r in _records(straight)] == pytest.approx([r["loss"] for r in _records(split)], rel=1e-5)


def test_log_every_writes_one_line_per_group_of_steps_with_their_mean_losses(data: Path, tmp_path: Path) -> None:
    every, grouped = tmp_path / "every", tmp_path / "grouped"
    _train(_config(data, model="prenet", max_steps=5, patch=16, checkpoint_every=100), every)
    _train(_config(data, model="prenet", max_steps=5, patch=16, checkpoint_every=100, log_every=2), grouped)
    steps, groups = _records(every), _records(grouped)
    assert [r["step"] for r in groups] == [2, 4, 5]  # the last step is always logged
    assert [r.get("steps") for r in groups] == [2, 2, None]
    for record, members in zip(groups, ([0, 1], [2, 3], [4])):
        assert record["loss"] == pytest.approx(sum(steps[i]["loss"] for i in members) / len(members), rel=1e-5)
        assert record["lr"] == steps[members[-1]]["lr"]


def test_compact_checkpoints_keep_adam_in_bf16_and_resume_close_to_an_uninterrupted_run(data: Path, tmp_path: Path) -> None:
    straight, split = tmp_path / "straight", tmp_path / "split"
    _train(_config(data, model="litenet", max_steps=4, patch=24), straight)
    _train(_config(data, model="litenet", max_steps=2, patch=24, compact_checkpoints=True), split)
    saved = torch.load(split / "checkpoints" / "last.pt", weights_only=True)
    assert {v.dtype for s in saved["optimizer"]["state"].values() for k, v in s.items() if k != "step"} == {torch.bfloat16}
    assert saved["model"] == "weights_000002.safetensors"  # the weights beside it, in fp32
    assert all(v.dtype == torch.float32 for v in load_state_dict(split / "checkpoints" / saved["model"]).values())
    _train(RunFolder(split).saved_config().resumed_with({"max_steps": 4}), split, resume=True)
    assert [p.name for p in (split / "checkpoints").glob("weights_*")] == ["weights_000004.safetensors"]  # the older one removed
    a, b = (RunFolder(run).load_checkpoint()["model"] for run in (straight, split))
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5  # 2 Adam steps of lr 1e-3 with rounded moments
    assert (split / "checkpoints" / "last.pt").stat().st_size < 0.75 * (straight / "checkpoints" / "last.pt").stat().st_size


def test_learning_rate_drops_at_each_milestone_epoch(data: Path, tmp_path: Path) -> None:
    _train(_config(data, model="prenet", epochs=3, milestones=(1, 2), patch=16), tmp_path / "run")
    lrs = {r["epoch"]: r["lr"] for r in _records(tmp_path / "run")}
    assert lrs == pytest.approx({1: 1e-3, 2: 2e-4, 3: 4e-5})


def test_validation_is_logged_at_the_end_of_each_epoch(data: Path, tmp_path: Path) -> None:
    _train(_config(data, model="prenet", max_steps=4, patch=16, val=str(data)), tmp_path / "run")
    logged = [r["step"] for r in _records(tmp_path / "run") if "val_psnr" in r]
    assert logged == [3, 4]
    record = _records(tmp_path / "run")[-1]
    assert 0 < record["val_ssim"] <= 1 and math.isfinite(record["val_psnr"])


def test_a_new_run_never_overwrites_an_old_one(data: Path, tmp_path: Path) -> None:
    _train(_config(data, model="prenet", max_steps=1, patch=16), tmp_path / "run")
    with pytest.raises(DerainError, match="--resume"):
        Trainer(_config(data, model="prenet", max_steps=1, patch=16), tmp_path / "run")


def test_resume_refuses_to_change_the_recipe(data: Path, tmp_path: Path) -> None:
    saved = _config(data, max_steps=2)
    with pytest.raises(UsageError, match="--lr"):
        saved.resumed_with({"lr": 0.5, "max_steps": 3})
    assert saved.resumed_with({"max_steps": 3, "lr": 1e-3}).max_steps == 3
    assert saved.resumed_with({"precision": "bf16"}).precision == "bf16"  # e.g. moved to a CPU with bf16
    with pytest.raises(UsageError, match="--precision"):
        _config(data, max_steps=2, precision="fp16").resumed_with({"precision": "bf16"})


def test_initial_weights_are_loaded(data: Path, tmp_path: Path, prenet_weights: Path) -> None:
    trainer = Trainer(_config(data, model="prenet", max_steps=1, patch=16, weights=str(prenet_weights)), tmp_path / "run")
    expected = load_state_dict(prenet_weights)
    assert all(torch.equal(v, expected[k]) for k, v in trainer.network.state_dict().items())


@pytest.mark.parametrize(
    "options, message",
    [({"batch_size": 0}, "--batch-size"), ({"precision": "fp16"}, "CUDA"), ({"precision": "fp8"}, "--precision"), ({"milestones": (50, 30)}, "increase")],
)
def test_bad_options_are_usage_errors(data: Path, tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Trainer(_config(data, **options), tmp_path / "run")
