"""Every array entry point of the Derainer API refuses what it cannot derain, with a ValueError/TypeError naming the problem."""

import numpy as np
import pytest
import torch

from derain_cli import Derainer

RGB8 = np.full((16, 16, 3), 120, np.uint8)
BAD_IMAGES = [  # (array, exception, what the message says)
    (RGB8.astype(np.float32) / 255, ValueError, "uint8"),
    (RGB8.astype(np.uint16) * 257, ValueError, "uint8"),
    (np.zeros((0, 16, 3), np.uint8), ValueError, "empty"),
    (np.zeros((16, 16, 4), np.uint8), ValueError, "alpha"),
    (np.zeros((16, 16), np.uint8), ValueError, "grey"),
    (RGB8.tolist(), TypeError, "numpy array"),
]
BAD_FLOATS = [
    (RGB8, ValueError, "float"),
    (np.full((16, 16, 3), np.nan, np.float32), ValueError, "NaN"),
    (RGB8.astype(np.float32), ValueError, r"\[0, 1\]"),
    (np.full((16, 16, 3), -0.5, np.float64), ValueError, r"\[0, 1\]"),
    (np.zeros((16, 0, 3), np.float32), ValueError, "empty"),
    (np.zeros((16, 16, 4), np.float32), ValueError, "alpha"),
]


@pytest.fixture(scope="module")
def derainer(tiny_weights):
    return Derainer("sapnet", weights=tiny_weights, device="cpu", precision="fp32")


@pytest.mark.parametrize("array,kind,message", BAD_IMAGES)
def test_call_and_derain_batch_refuse_what_is_not_uint8_rgb(derainer, array, kind, message):
    with pytest.raises(kind, match=message):
        derainer(array)
    with pytest.raises(kind, match=message):
        derainer.derain_batch([RGB8, array])


@pytest.mark.parametrize("array,kind,message", BAD_FLOATS)
def test_derain_float_refuses_what_is_not_float_rgb_in_unit_range(derainer, array, kind, message):
    with pytest.raises(kind, match=message):
        derainer.derain_float(array)


def test_derain_batch_wants_a_list_and_derains_like_call(derainer):
    with pytest.raises(TypeError, match="list"):
        derainer.derain_batch(np.stack([RGB8, RGB8]))
    assert np.array_equal(derainer.derain_batch([RGB8])[0], derainer(RGB8))


@pytest.mark.parametrize("tensor,kind,message", [
    (torch.full((1, 3, 16, 16), 120, dtype=torch.uint8), ValueError, "float"),
    (torch.full((1, 3, 16, 16), float("nan")), ValueError, "NaN"),
    (torch.full((1, 3, 16, 16), 2.0), ValueError, r"\[0, 1\]"),
    (torch.zeros(3, 16, 16), ValueError, "N x 3 x H x W"),
    (torch.zeros(1, 3, 0, 16), ValueError, "empty"),
    (RGB8, TypeError, "torch tensor"),
])
def test_derain_tensor_refuses_what_is_not_a_float_batch(derainer, tensor, kind, message):
    with pytest.raises(kind, match=message):
        derainer.derain_tensor(tensor)


@pytest.mark.parametrize("tile", ["64", 64.0, True, float("nan")])
def test_tile_must_be_a_whole_number(tiny_weights, tile):
    with pytest.raises(TypeError, match="tile"):
        Derainer("sapnet", weights=tiny_weights, device="cpu", tile=tile)
