"""``--dataset`` specs: parsing, on-the-fly synthetic patches, and mixing sources with weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from derain_cli.errors import DerainError, UsageError
from derain_cli.train.data import PairedPatches, load_pairs
from derain_cli.train.sources import MixedPatches, SynthPatches, build_patches, clean_images, parse_sources
from paired_data import write_pairs
from test_synth import clean_folder as write_clean_folder


def test_parse_sources_attaches_options_to_the_source_before_them() -> None:
    sources = parse_sources("synth:clean/,preset=heavy,weight=3, pairs/ ,other,weight=0.5")
    assert [s.name for s in sources] == ["synth:clean/", "pairs/", "other"]
    assert sources[0].synthetic and not sources[1].synthetic
    assert sources[0].options == {"preset": "heavy", "weight": "3"} and sources[0].weight == 3
    assert sources[1].weight == 1 and sources[2].weight == 0.5


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "is empty"),
        ("weight=2,pairs", "comes before any data set"),
        ("pairs,preset=heavy", "preset= is for synth:FOLDER"),
        ("synth:c,preset=monsoon", "unknown rain preset"),
        ("pairs,weight=lots", "is not a number"),
        ("pairs,weight=0", "weight must be in"),
        ("synth:", "synth: needs a folder"),
        ("pairs,synth: ,weight=2", "synth: needs a folder"),
        ("synth:c,layers=3", "layers= is for paired sets"),
        ("pairs,layers=0", "layers must be a whole number in 1..16"),
        ("pairs,layers=many", "layers must be a whole number"),
    ],
)
def test_bad_specs_are_usage_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        sources = parse_sources(spec)
        [s.weight for s in sources]


@pytest.fixture
def clean_folder(tmp_path: Path) -> Path:
    return write_clean_folder(tmp_path / "clean", 48, 64)


def test_synth_patches_are_deterministic_and_new_every_epoch(clean_folder: Path) -> None:
    patches = SynthPatches(clean_images(clean_folder), patch=32, seed=4, preset_name="heavy")
    rainy, clean = patches[(1, 0)]
    assert rainy.shape == clean.shape == (3, 32, 32)
    again = SynthPatches(clean_images(clean_folder), patch=32, seed=4, preset_name="heavy")[(1, 0)]
    assert torch.equal(rainy, again[0]) and torch.equal(clean, again[1])
    later = patches[(1, 1)]
    assert not torch.equal(rainy, later[0])
    assert (rainy - clean).abs().mean() > 0.005  # there is rain


def test_clean_images_prefers_the_target_folder_of_a_paired_set(tmp_path: Path) -> None:
    write_pairs(tmp_path / "set", count=2)
    assert [p.parent.name for p in clean_images(tmp_path / "set")] == ["target", "target"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DerainError, match="no clean images"):
        clean_images(tmp_path / "empty")


def test_mixed_patches_take_weighted_shares_deterministically(clean_folder: Path, tmp_path: Path) -> None:
    pairs = load_pairs(write_pairs(tmp_path / "pairs", count=4, size=(40, 36)), 32)
    synthetic = SynthPatches(clean_images(clean_folder), patch=32, seed=1)
    paired = PairedPatches(pairs, 32, seed=2)
    mixed = MixedPatches([(synthetic, 2.0), (paired, 0.5)])
    assert len(mixed) == 2 * 3 + 2
    # indices 0..5: the synthetic part, twice over (the repeat is a different rendering), then 2 pairs
    first, repeat = mixed[(0, 0)], mixed[(3, 0)]
    assert first[1].shape == (3, 32, 32) and not torch.equal(first[0], repeat[0])
    assert torch.equal(mixed[(6, 0)][0], paired[(0, 0)][0])
    assert torch.equal(mixed[(2, 5)][0], MixedPatches([(synthetic, 2.0), (paired, 0.5)])[(2, 5)][0])


def test_build_patches_single_and_mixed(clean_folder: Path, tmp_path: Path) -> None:
    write_pairs(tmp_path / "pairs", count=4, size=(40, 36))
    single, images = build_patches(f"synth:{clean_folder}", 32, seed=0, patches_per_image=2)
    assert isinstance(single, SynthPatches) and len(single) == 6 and images == 3
    mixed, images = build_patches(f"synth:{clean_folder},preset=light,{tmp_path / 'pairs'},weight=2", 32, 0, 1)
    assert isinstance(mixed, MixedPatches) and len(mixed) == 3 + 8 and images == 7
    with pytest.raises(UsageError, match="--task-labels"):
        build_patches(f"synth:{clean_folder}", 32, 0, 1, labels=True)
