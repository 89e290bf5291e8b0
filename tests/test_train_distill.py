"""Distillation data (derain_cli.train.distill, ``derain train --teacher``): inputs of each kind of item,
the teacher run once per input and cached, and mixing with ground-truth items."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from derain_cli.checkpoints import read_metadata
from derain_cli.cli import app
from derain_cli.errors import DerainError, UsageError
from derain_cli.imageio import read_rgb8
from derain_cli.train.distill import MAX_SIDE, Teacher, reduce, source_inputs
from derain_cli.train.sources import MixedPatches, build_patches
from paired_data import write_pairs
from test_synth import clean_folder

TEACHER = "sapnet-realrain"  # bundled: real weights, no network


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return clean_folder(tmp_path / "photos", 40, 52)


@pytest.fixture
def teacher(tmp_path: Path) -> Teacher:
    return Teacher(TEACHER, device="cpu", root=tmp_path / "cache")


def test_reduce_caps_the_long_side() -> None:
    big = np.zeros((500, 1000, 3), np.uint8)
    assert reduce(big).shape == (MAX_SIDE // 2, MAX_SIDE, 3)
    small = np.zeros((30, 40, 3), np.uint8)
    assert reduce(small) is small


def test_inputs_of_each_kind_of_item(photos: Path, tmp_path: Path) -> None:
    pairs = write_pairs(tmp_path / "pairs", count=2)
    assert [load().shape for load in source_inputs(photos, False, {}, 0)] == [(40, 52, 3)] * 3
    rainy = [load() for load in source_inputs(pairs, False, {}, 0)]
    assert np.array_equal(rainy[0], read_rgb8(pairs / "input" / "1.png"))
    renders = [load() for load in source_inputs(photos, True, {"renders": "2"}, 5)]
    assert len(renders) == 6 and not np.array_equal(renders[0], renders[1])  # two versions of each
    again = [load() for load in source_inputs(photos, True, {"renders": "2"}, 5)]
    assert all(np.array_equal(a, b) for a, b in zip(renders, again))  # fixed by the seed
    crops = [load() for load in source_inputs(photos, False, {"crop": "24"}, 0)]
    assert [c.shape for c in crops] == [(24, 24, 3)] * 3


@pytest.mark.parametrize("options, message", [({"renders": "0"}, "renders must be"), ({"crop": "x"}, "not a whole number")])
def test_bad_item_options(photos: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        list(source_inputs(photos, True, options, 0))


def test_the_teacher_runs_once_per_input(photos: Path, teacher: Teacher) -> None:
    loaders = list(source_inputs(photos, False, {}, 0))
    pairs = teacher.pairs(loaders, "photos")
    assert teacher.computed == 3
    output = read_rgb8(pairs[0].clean)
    assert output.shape == (40, 52, 3) and not np.array_equal(output, read_rgb8(pairs[0].rainy))
    assert np.array_equal(output, teacher.derainer(read_rgb8(photos / "0.png")))
    again = Teacher(TEACHER, device="cpu", root=teacher.root)
    assert again.pairs(loaders, "photos") == pairs and again.computed == 0  # cached
    assert teacher.licence == "MIT"


def test_teacher_items_mix_with_ground_truth_items(photos: Path, tmp_path: Path, teacher: Teacher) -> None:
    pairs = write_pairs(tmp_path / "pairs", count=4)
    dataset, images = build_patches(f"{photos},{pairs},target=clean", 32, 0, 1, teacher=teacher)
    assert isinstance(dataset, MixedPatches) and images == 7 and len(dataset) == 7
    rainy, clean = dataset[(5, 0)]  # a ground-truth pair: clean = 255 - rainy (paired_data)
    assert torch.allclose(rainy + clean, torch.ones_like(rainy))
    assert teacher.computed == 3


@pytest.mark.parametrize(
    "spec, message",
    [("{photos},target=clean", "no paired layout found"), ("{photos},target=both", "target must be"),
     ("synth:{photos},target=clean,renders=2", "renders= is for target=teacher")],
)  # fmt: skip
def test_mistakes_in_teacher_specs(spec: str, message: str, photos: Path, teacher: Teacher) -> None:
    with pytest.raises((UsageError, DerainError), match=message):
        build_patches(spec.format(photos=photos), 32, 0, 1, teacher=teacher)


def test_teacher_options_without_a_teacher_are_refused(photos: Path) -> None:
    with pytest.raises(UsageError, match="renders= is for a --teacher run"):
        build_patches(f"synth:{photos},renders=2", 32, 0, 1)


def test_train_with_a_teacher_records_it(photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DERAIN_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--device", "cpu", "--workers", "0", "--model", "litenet", "--teacher", TEACHER,
                                      "--dataset", str(photos), "--losses", "l1", "--patch", "32", "--batch-size", "2",
                                      "--max-steps", "2", "-q", "-o", str(run)])  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["teacher"] == TEACHER and config["teacher_licence"] == "MIT"
    assert read_metadata(run / "model.safetensors")["teacher"] == TEACHER
    assert len(list((tmp_path / "cache" / "teacher" / "inputs").iterdir())) == 3
