"""`derain train` end to end: the acceptance run on Rain100H pairs, resume, every loss, HCN, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from derain_cli.cli import app
from loss_standins import lpips_file, vgg_file  # noqa: F401  (fixtures)
from paired_data import copy_rain100h, write_pairs

runner = CliRunner()


def train(*args: object) -> object:
    return runner.invoke(app, ["train", "--device", "cpu", "--workers", "0", *map(str, args)])


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def assert_finite(run: Path) -> None:
    for record in records(run):
        for key, value in record.items():
            assert not isinstance(value, float) or math.isfinite(value), (record["step"], key)


@pytest.mark.slow
def test_acceptance_train_resume_and_derain(rain100h: Path, tmp_path: Path) -> None:
    data, run = copy_rain100h(rain100h, tmp_path / "data"), tmp_path / "RUN"
    result = train("--dataset", data, "--losses", "ssim", "--batch-size", 2, "--patch", 64, "--max-steps", 4, "-o", run)
    assert result.exit_code == 0, result.output
    assert (run / "model.safetensors").is_file() and (run / "checkpoints" / "last.pt").is_file()
    assert [r["step"] for r in records(run)] == [1, 2, 3, 4]

    result = train("--resume", "--max-steps", 6, "-o", run)
    assert result.exit_code == 0, result.output
    assert [r["step"] for r in records(run)] == [1, 2, 3, 4, 5, 6]
    assert_finite(run)

    crop = np.asarray(Image.open(data / "input" / "1.png").convert("RGB"))[:64, :64]
    Image.fromarray(crop).save(tmp_path / "small.png")
    out = tmp_path / "derained.png"
    args = ["image", tmp_path / "small.png", "-o", out, "--weights", run / "model.safetensors", "--device", "cpu", "-q"]
    result = runner.invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (64, 64)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("pairs"), count=4, size=(40, 36))


def test_every_paper_loss_is_logged_and_finite(pairs: Path, tmp_path: Path, vgg_file: Path, lpips_file: Path) -> None:
    run = tmp_path / "run"
    result = train("-D", pairs, "-m", "prenet", "--batch-size", 2, "--patch", 32, "--max-steps", 1, "-o", run,
                   "--loss-weights", f"vgg16-imagenet={vgg_file}", "--loss-weights", f"lpips-vgg={lpips_file}")  # fmt: skip
    assert result.exit_code == 0, result.output
    record = records(run)[0]
    assert {"ssim", "pcl", "lpips", "ubs"} <= set(record)
    expected = record["ssim"] + 0.1 * (record["pcl"] + record["lpips"] + record["ubs"])
    assert record["loss"] == pytest.approx(expected, rel=1e-5)
    assert_finite(run)


def test_task_driven_stage_joins_at_its_epoch(pairs: Path, tmp_path: Path, tiny_segformer: Path) -> None:
    run = tmp_path / "run"
    result = train("-D", pairs, "-m", "prenet", "--losses", "ssim", "--batch-size", 2, "--patch", 32, "--max-steps", 3,
                   "--task-driven", "--seg-model", tiny_segformer, "--task-start", 1, "-o", run)  # fmt: skip
    assert result.exit_code == 0, result.output
    logged = records(run)
    assert [("task_ce" in r, "task_feat" in r) for r in logged] == [(False, False), (False, False), (True, True)]
    assert_finite(run)


def test_task_driven_stage_with_dataset_labels(pairs: Path, tmp_path: Path, tiny_segformer: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    for clean in (pairs / "target").iterdir():
        Image.fromarray(np.full((36, 40), 3, dtype=np.uint8), "L").save(labels / clean.name)
    run = tmp_path / "run"
    result = train("-D", pairs, "-m", "prenet", "--losses", "ssim", "--batch-size", 2, "--patch", 32, "--max-steps", 1,
                   "--task-driven", "--seg-model", tiny_segformer, "--task-labels", labels, "-o", run)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "task_ce" in records(run)[0]
    result = train("-D", pairs, "--task-labels", labels, "-o", tmp_path / "other")
    assert result.exit_code == 2 and "--task-driven" in result.output


@pytest.mark.slow
def test_hcn_trains_with_its_own_recipe(rain100h: Path, tmp_path: Path) -> None:
    data, run = copy_rain100h(rain100h, tmp_path / "data", count=2), tmp_path / "run"
    result = train("--model", "hcn", "--dataset", data, "--losses", "ssim", "--max-steps", 2, "--batch-size", 2,
                   "--patch", 64, "-o", run)  # fmt: skip
    assert result.exit_code == 0, result.output
    record = records(run)[-1]
    assert {"hcn", "ssim", "ssim_half", "ssim_quarter"} <= set(record)
    assert_finite(run)
    # the acceptance: the trained HCN derains an image through `derain image`, keeping its size
    source = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (37, 53, 3), dtype=np.uint8)).save(source)
    result = runner.invoke(app, ["image", str(source), "-o", str(tmp_path / "y.png"), "--model", "hcn",
                                 "--weights", str(run / "model.safetensors"), "--device", "cpu", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "y.png").size == (53, 37)


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["-D", "rain13k"], 1, "is published at"),
        (["-D", "no-such-set"], 2, "neither a folder nor a known data set"),
        (["--resume"], 2, "--resume needs -o"),
        (["--losses", "ssim,mse"], 2, "unknown loss 'mse'"),
        (["--milestones", "30,x"], 2, "--milestones"),
        (["--loss-weights", "vgg16-imagenet"], 2, "NAME=PATH"),
        (["-m", "litenet", "--model-option", "channels"], 2, "--model-option 'channels': expected KEY=N"),
        (["-m", "litenet", "--model-option", "width=8"], 1, "--model-option: unknown option 'width' for litenet"),
        (["-m", "litenet", "--model-option", "channels=500"], 1, "--model-option"),
    ],
)
def test_mistakes_are_one_line_errors(args: list[str], code: int, message: str, pairs: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("DERAIN_DATA", str(tmp_path / "data-root"))
    full = args if "-D" in args else ["-D", str(pairs), *args]
    result = train(*full)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output


def test_resume_of_a_run_with_another_recipe_is_refused(pairs: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert train("-D", pairs, "-m", "prenet", "--losses", "ssim", "--batch-size", 2, "--patch", 16, "--max-steps", 1,
                 "-o", run).exit_code == 0  # fmt: skip
    result = train("--resume", "--batch-size", 4, "-o", run)
    assert result.exit_code == 2 and "--batch-size 2" in result.output


def test_architecture_options_shape_the_network_and_travel_with_its_checkpoints(pairs: Path, tmp_path: Path) -> None:
    """A wider or narrower litenet trains, and its checkpoint runs as that graph in derain image."""
    from derain_cli.checkpoints import read_metadata
    from derain_cli.derainer import Derainer

    run = tmp_path / "run"
    result = train("-D", pairs, "-m", "litenet", "--model-option", "channels=8", "--model-option", "blocks=1",
                   "--losses", "l1", "--batch-size", 2, "--patch", 16, "--max-steps", 1, "-o", run)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(read_metadata(run / "model.safetensors")["options"]) == {"blocks": 1, "channels": 8}
    derainer = Derainer("litenet", run / "model.safetensors", device="cpu", precision="fp32")
    assert derainer.network.lite_head.out_channels == 8 and len(derainer.network.lite_blocks) == 1
    assert json.loads((run / "config.json").read_text())["options"]["model_options"] == {"channels": 8, "blocks": 1}
    refused = train("--resume", "--model-option", "channels=16", "-o", run)
    assert refused.exit_code == 2 and "trained with --model-option {'channels': 8, 'blocks': 1}" in refused.output
