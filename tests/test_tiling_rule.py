"""The one tile rule: --tile is 0 or at least MIN_TILE pixels, checked first; a requested band size is honoured."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_checks import invoke, snapshot
from conftest import noise_image

from derain_cli import Derainer
from derain_cli.checkpoints import save_safetensors
from derain_cli.errors import UsageError
from derain_cli.models import create_model
from derain_cli.tile_rule import MIN_TILE
from derain_cli.tiling import tile_overlap, tile_starts

COMMANDS = {
    "image": lambda t: ["image", t / "missing.png", "-o", t / "out"],
    "video": lambda t: ["video", t / "missing.mp4", "-o", t / "out" / "v.mp4"],
    "online-update": lambda t: ["online-update", t / "missing", "-o", t / "out" / "run"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("tile", [-5, 1, 16, MIN_TILE - 1])
def test_bad_tile_is_a_usage_error_before_any_input(tmp_path, command, tile):
    (tmp_path / "out").mkdir()
    result = invoke(*COMMANDS[command](tmp_path), "--tile", tile, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert f"at least {MIN_TILE} pixels, got {tile}" in result.output
    assert "missing" not in result.output  # refused before looking at the inputs
    assert snapshot(tmp_path / "out") == {}


@pytest.mark.parametrize("tile", [MIN_TILE, 33, 64, 1000])
def test_every_allowed_tile_makes_progress(tile):
    overlap = tile_overlap(tile)
    assert 0 < overlap < tile
    starts = tile_starts(3 * tile + 5, tile, overlap)
    assert starts == sorted(set(starts)) and starts[-1] == 2 * tile + 5


def test_the_api_applies_the_same_rule(tiny_weights):
    with pytest.raises(UsageError, match="at least"):
        Derainer("sapnet", tiny_weights, device="cpu", tile=16)


@pytest.fixture(scope="module")
def real_photo_variant(tmp_path_factory):
    """A PReNet real-photo-graph checkpoint (no exact bands: it runs overlapping tiles)."""
    options = {"stages": 2, "lstm_last": True, "residual": False}
    path = tmp_path_factory.mktemp("w") / "variant.safetensors"
    metadata = {"format": "pt", "architecture": "prenet", "options": json.dumps(options)}
    return save_safetensors(create_model("prenet", **options).state_dict(), path, metadata)


@pytest.mark.parametrize("tile", [MIN_TILE, 40])
def test_smallest_tiles_run_on_the_overlapping_tile_path(tmp_path, real_photo_variant, tile):
    src = noise_image(tmp_path / "in.png", 50, 70)
    result = invoke("image", src, "-o", tmp_path / "out.png", "-m", "prenet", "-w", real_photo_variant,
                    "--tile", tile, "--device", "cpu", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.png").is_file()


def test_a_large_band_request_is_honoured_exactly(tiny_weights):
    """--tile 1448 used to exceed the budget by its band alone and fall back to 64-px feathered tiles."""
    rgb = np.random.default_rng(0).integers(0, 256, (96, 80, 3), dtype=np.uint8)
    banded = Derainer("sapnet", tiny_weights, device="cpu", tile=1448)
    assert banded.tile_size(96, 80) == 0
    np.testing.assert_array_equal(banded(rgb), Derainer("sapnet", tiny_weights, device="cpu", tile=0)(rgb))


def test_beyond_the_budget_tiles_are_the_largest_that_fit(tiny_weights):
    derainer = Derainer("sapnet", tiny_weights, device="cpu", tile=1448)
    tile = derainer.tile_size(4000, 3000)
    assert tile > 64 and derainer._peak_bytes(tile * tile) <= derainer.memory_budget
    assert derainer._peak_bytes((tile + 8) ** 2) > derainer.memory_budget
