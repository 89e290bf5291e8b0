"""Automatic crops: the textured region of the target and where the outputs disagree, apart from each other."""

from __future__ import annotations

import numpy as np

from derain_cli.report.crops import crop_side, pick_crops, window_means


def test_window_means_match_a_direct_sum():
    values = np.random.default_rng(0).random((20, 30))
    means = window_means(values, 7)
    assert means.shape == (14, 24)
    assert abs(means[5, 11] - values[5:12, 11:18].mean()) < 1e-12


def test_crops_land_on_the_texture_and_on_the_disagreement():
    rng = np.random.default_rng(1)
    target = np.full((200, 300, 3), 120, dtype=np.uint8)
    target[20:90, 200:290] = rng.integers(0, 256, (70, 90, 3))  # texture at the top right
    a, b = target.copy(), target.copy()
    b[130:190, 10:80] = 0  # the two outputs disagree at the bottom left
    texture, disagreement = pick_crops(target, [a, b])
    side = crop_side(200, 300)
    assert side == 96 and texture.side == side
    assert 20 - side // 2 <= texture.top <= 20 and 200 - side // 2 <= texture.left <= 200
    assert disagreement.why == "where the models differ most"
    assert disagreement.top + side > 130 and disagreement.top < 190 and disagreement.left < 80
    one = pick_crops(target, [b])[1]  # one output: measured against the target
    assert one.why.startswith("where the output differs") and (one.top, one.left) == (disagreement.top, disagreement.left)


def test_small_images_get_small_crops_inside_them():
    target = np.random.default_rng(2).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    for crop in pick_crops(target, [target[::-1].copy()]):
        assert crop.side == 12 and crop.of(target).shape == (12, 12, 3)
