"""Named data sets: datasets.toml, the data root, and the error for a set that is not there."""

from __future__ import annotations

from pathlib import Path

import pytest

from derain_cli.errors import DerainError, UsageError
from derain_cli.pairs import FLAT_LAYOUT, FOLDER_LAYOUTS
from derain_cli.train.datasets import data_root, load_registry, resolve_dataset
from paired_data import write_pairs


def test_registry_entries_are_complete_and_use_known_layouts() -> None:
    registry = load_registry()
    assert {"rain100h", "rain100h-train", "rain100l", "rain1400", "rain13k"} <= set(registry)
    known = {name for name, _, _ in FOLDER_LAYOUTS} | {FLAT_LAYOUT}
    for entry in registry.values():
        assert entry.layout in known, entry.name
        assert entry.published.strip() and entry.pairs > 0 and entry.split in ("train", "test")


def test_data_root_honours_derain_data_then_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DERAIN_DATA", str(tmp_path / "data"))
    assert data_root() == tmp_path / "data"
    monkeypatch.delenv("DERAIN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_root() == tmp_path / "cache" / "derain" / "data"


def test_a_folder_is_used_as_it_is(tmp_path: Path) -> None:
    assert resolve_dataset(write_pairs(tmp_path / "mine", 2)) == tmp_path / "mine"


def test_a_name_resolves_under_the_data_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DERAIN_DATA", str(tmp_path))
    write_pairs(tmp_path / "rain100h-train", 2, layout="rain-NNN+norain-NNN")
    assert resolve_dataset("rain100h-train") == tmp_path / "rain100h-train"
    assert resolve_dataset("Rain100H-Train") == tmp_path / "rain100h-train"


def test_a_missing_set_says_where_it_is_published_its_layout_and_the_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DERAIN_DATA", str(tmp_path))
    with pytest.raises(DerainError) as caught:
        resolve_dataset("rain13k")
    message = str(caught.value)
    assert str(tmp_path / "rain13k") in message
    assert "input/+target/" in message
    assert "github.com/swz30/MPRNet" in message


def test_an_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="rain100h-train"):
        resolve_dataset(tmp_path / "nowhere")
