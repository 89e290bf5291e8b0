"""Training data: every paired layout, aligned random patches with flips, deterministic batches, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from derain_cli.errors import DerainError
from derain_cli.train.data import EpochBatches, PairedPatches, load_labels, load_pairs, steps_per_epoch
from paired_data import LAYOUTS, write_pairs


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_gives_aligned_patches(tmp_path: Path, layout: str) -> None:
    pairs = load_pairs(write_pairs(tmp_path, 3, layout=layout), patch=16)
    assert [p.name for p in pairs] == ["1", "2", "3"]
    dataset = PairedPatches(pairs, patch=16, seed=0)
    for index in range(len(dataset)):
        rainy, clean = dataset[(index, 0)]
        assert rainy.shape == clean.shape == (3, 16, 16)
        assert torch.allclose(rainy, 1 - clean, atol=1e-6)  # same crop and flips on both images


def test_patches_depend_only_on_seed_epoch_and_index(tmp_path: Path) -> None:
    pairs = load_pairs(write_pairs(tmp_path, 2), patch=16)
    first, again = PairedPatches(pairs, 16, seed=1), PairedPatches(pairs, 16, seed=1)
    assert torch.equal(first[(0, 5)][1], again[(0, 5)][1])
    assert not torch.equal(first[(0, 5)][1], first[(0, 6)][1])
    assert not torch.equal(first[(0, 5)][1], PairedPatches(pairs, 16, seed=2)[(0, 5)][1])


def test_flips_are_drawn(tmp_path: Path) -> None:
    pairs = load_pairs(write_pairs(tmp_path, 1, size=(16, 16)), patch=16)
    whole = PairedPatches(pairs, 16, flips=False)[(0, 0)][1]
    seen = {tuple(PairedPatches(pairs, 16, seed=s)[(0, 0)][1].flatten()[:4].tolist()) for s in range(16)}
    flipped = {tuple(t.flatten()[:4].tolist()) for t in (whole, whole.flip(2), whole.flip(1), whole.flip(1).flip(2))}
    assert seen == flipped


def test_patches_per_image_multiplies_the_epoch(tmp_path: Path) -> None:
    pairs = load_pairs(write_pairs(tmp_path, 2), patch=16)
    dataset = PairedPatches(pairs, 16, patches_per_image=3)
    assert len(dataset) == 6
    assert torch.allclose(dataset[(5, 0)][0], 1 - dataset[(5, 0)][1])


def test_problems_are_listed_together(tmp_path: Path) -> None:
    write_pairs(tmp_path, 3)
    (tmp_path / "target" / "3.png").unlink()
    Image.new("RGB", (30, 30)).save(tmp_path / "target" / "2.png")
    with pytest.raises(DerainError) as caught:
        load_pairs(tmp_path, patch=16)
    message = str(caught.value)
    assert "2 problem(s)" in message
    assert "3.png: no matching clean image" in message
    assert "differs from" in message and "2.png" in message


def test_images_smaller_than_the_patch_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DerainError, match="smaller than the 64 px patch"):
        load_pairs(write_pairs(tmp_path, 2), patch=64)


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DerainError, match="no paired layout"):
        load_pairs(tmp_path, patch=16)


def test_batches_resume_where_they_stopped_and_cross_epochs() -> None:
    full = list(EpochBatches(size=7, batch_size=2, seed=0, start_step=0, steps=8))
    assert steps_per_epoch(7, 2) == 3
    assert list(EpochBatches(size=7, batch_size=2, seed=0, start_step=5, steps=8)) == full[5:]
    assert [key[1] for batch in full for key in batch] == [0] * 6 + [1] * 6 + [2] * 4
    assert full[:3] != [[(i, 1) for i, _ in batch] for batch in full[3:6]]  # reshuffled each epoch


def test_processes_get_disjoint_shards() -> None:
    shards = [list(EpochBatches(size=8, batch_size=2, seed=0, start_step=0, steps=2, rank=r, world_size=2)) for r in range(2)]
    seen = [i for shard in shards for batch in shard for i, _ in batch]
    assert sorted(seen) == list(range(8))


def test_too_few_pairs_for_one_batch() -> None:
    with pytest.raises(DerainError, match="fewer than one batch"):
        steps_per_epoch(3, batch_size=2, world_size=2)


def _write_labels(root: Path, folder: Path) -> Path:
    """Label maps derived from each clean image (its red channel // 16), so their crops can be checked."""
    folder.mkdir()
    for clean in sorted((root / "target").iterdir()):
        red = np.asarray(Image.open(clean))[..., 0] // 16
        Image.fromarray(red.astype(np.uint8), "L").save(folder / clean.name)
    return folder


def test_label_maps_are_cropped_and_flipped_with_the_pair(tmp_path: Path) -> None:
    root = write_pairs(tmp_path / "pairs", 2)
    pairs = load_pairs(root, patch=16)
    dataset = PairedPatches(pairs, 16, seed=3, labels=load_labels(pairs, _write_labels(root, tmp_path / "labels")))
    for epoch in range(4):
        rainy, clean, labels = dataset[(1, epoch)]
        assert labels.dtype == torch.long and labels.shape == (16, 16)
        assert torch.equal(labels, (clean[0] * 255).round().long() // 16)


def test_missing_label_maps_are_listed(tmp_path: Path) -> None:
    root = write_pairs(tmp_path / "pairs", 2)
    folder = _write_labels(root, tmp_path / "labels")
    (folder / "2.png").unlink()
    with pytest.raises(DerainError, match="2.png: no label map"):
        load_labels(load_pairs(root, patch=16), folder)
