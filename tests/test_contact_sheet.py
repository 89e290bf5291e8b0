"""Contact sheets: tiles in a grid, and captions over the columns."""

import numpy as np

from derain_cli.contact_sheet import contact_sheet


def test_captions_go_in_a_band_above_the_unchanged_grid():
    rng = np.random.default_rng(0)
    rows = [[rng.integers(0, 256, (30, 40, 3), dtype=np.uint8) for _ in range(2)] for _ in range(2)]
    plain = contact_sheet(rows, width=80)
    labelled = contact_sheet(rows, width=80, labels=["rainy", "derained"])
    band = labelled.shape[0] - plain.shape[0]
    assert band > 0 and labelled.shape[1] == plain.shape[1]
    np.testing.assert_array_equal(labelled[band:], plain)
    for column in range(2):
        caption = labelled[:band, 4 + column * 84 : 4 + column * 84 + 80]
        assert (caption < 128).any() and (caption == 255).mean() > 0.5  # dark text on white
