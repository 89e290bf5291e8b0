"""Paired-set discovery: every layout, natural order, unmatched and mismatched files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from derain_cli.errors import DerainError
from derain_cli.pairs import FLAT_LAYOUT, check_sizes, find_pairs, natural_key


def _png(path: Path, size: tuple[int, int] = (16, 12)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["10.png", "2.png", "100.png", "1.png", "rain-9.png", "rain-10.png", "B.png", "a.png"]
    assert sorted(names, key=natural_key) == [
        "1.png", "2.png", "10.png", "100.png", "a.png", "B.png", "rain-9.png", "rain-10.png"
    ]


@pytest.mark.parametrize(
    ("rainy_name", "clean_name", "layout"),
    [
        ("input/{}.png", "target/{}.png", "input/+target/"),
        ("rain/{}.png", "norain/{}.png", "rain/+norain/"),
        ("rain/rain-{}.png", "norain/norain-{}.png", "rain/+norain/"),
        ("rainy/{}.jpg", "gt/{}.png", "rainy/+gt/"),
        ("rain-{}.png", "norain-{}.png", FLAT_LAYOUT),
    ],
)
def test_each_layout_is_detected_and_paired_in_natural_order(
    tmp_path: Path, rainy_name: str, clean_name: str, layout: str
) -> None:
    for n in (10, 2, 1):
        _png(tmp_path / rainy_name.format(n))
        _png(tmp_path / clean_name.format(n))
    paired = find_pairs(tmp_path)
    assert paired.layout == layout
    assert paired.problems == []
    assert [p.name for p in paired.pairs] == ["1", "2", "10"]
    assert [p.rainy for p in paired.pairs] == [tmp_path / rainy_name.format(n) for n in (1, 2, 10)]
    assert [p.clean for p in paired.pairs] == [tmp_path / clean_name.format(n) for n in (1, 2, 10)]
    assert [p.name for p in paired.limited(2)] == ["1", "2"]
    assert [p.name for p in paired.limited(None, every=2)] == ["1", "10"] and [p.name for p in paired.limited(1, 2)] == ["1"]


def test_unmatched_files_are_reported_not_dropped_silently(tmp_path: Path) -> None:
    for n in (1, 2):
        _png(tmp_path / "input" / f"{n}.png")
        _png(tmp_path / "target" / f"{n}.png")
    _png(tmp_path / "input" / "3.png")
    _png(tmp_path / "target" / "4.png")
    _png(tmp_path / "target" / "2.jpg")  # same name as 2.png
    (tmp_path / "input" / "notes.txt").write_text("not an image")
    paired = find_pairs(tmp_path)
    assert [p.name for p in paired.pairs] == ["1", "2"]
    assert len(paired.problems) == 3
    joined = "\n".join(paired.problems)
    assert f"{tmp_path / 'input' / '3.png'}: no matching clean image" in joined
    assert f"{tmp_path / 'target' / '4.png'}: no matching rainy image" in joined
    assert "2.jpg" in joined and "same name" in joined


def test_flat_layout_reports_orphans(tmp_path: Path) -> None:
    _png(tmp_path / "rain-001.png")
    _png(tmp_path / "norain-001.png")
    _png(tmp_path / "rain-002.png")
    paired = find_pairs(tmp_path)
    assert [p.name for p in paired.pairs] == ["001"]
    assert paired.problems == [f"{tmp_path / 'rain-002.png'}: no matching clean image"]


def test_size_mismatches_are_reported(tmp_path: Path) -> None:
    _png(tmp_path / "input" / "1.png", (16, 12))
    _png(tmp_path / "target" / "1.png", (16, 12))
    _png(tmp_path / "input" / "2.png", (16, 12))
    _png(tmp_path / "target" / "2.png", (12, 16))
    paired = find_pairs(tmp_path)
    problems = check_sizes(paired.pairs)
    assert problems == [
        f"{tmp_path / 'input' / '2.png'}: size 16x12 differs from {tmp_path / 'target' / '2.png'} (12x16)"
    ]


def test_unknown_layout_lists_the_known_ones(tmp_path: Path) -> None:
    _png(tmp_path / "photo.png")
    with pytest.raises(DerainError, match=r"no paired layout found; known layouts: input/\+target/, rain/\+norain/"):
        find_pairs(tmp_path)


def test_empty_or_missing_sets_are_errors(tmp_path: Path) -> None:
    (tmp_path / "input").mkdir()
    (tmp_path / "target").mkdir()
    with pytest.raises(DerainError, match="holds no matching image pairs"):
        find_pairs(tmp_path)
    with pytest.raises(DerainError, match="not a folder"):
        find_pairs(tmp_path / "missing")


def test_rain100h_layout(rain100h: Path) -> None:
    paired = find_pairs(rain100h)
    assert paired.layout == "input/+target/" and len(paired.pairs) == 100 and paired.problems == []
    assert [p.name for p in paired.pairs[:3]] == ["1", "2", "3"] and paired.pairs[-1].name == "100"
