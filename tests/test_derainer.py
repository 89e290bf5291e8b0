"""Acceptance: the package reproduces the papers' forward pass on real Rain100H images."""

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from derain_cli import Derainer
from derain_cli.checkpoints import load_state_dict
from derain_cli.cli import app
from reference_forward import reference_forward

IMAGES = ("7.png", "42.png")


def _reference(weights, rgb, sapnet):
    y = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        out = reference_forward(y, load_state_dict(weights), sapnet=sapnet)
    return np.rint(out.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def _max_diff(a, b):
    return int(np.abs(a.astype(int) - b.astype(int)).max())


@pytest.mark.slow
@pytest.mark.parametrize("model,fixture", [("sapnet", "sapnet_weights"), ("prenet", "prenet_weights")])
def test_api_and_cli_reproduce_the_reference_forward(model, fixture, rain100h, tmp_path, request):
    weights = request.getfixturevalue(fixture)
    sources = [rain100h / "input" / name for name in IMAGES]
    rgbs = [np.asarray(Image.open(p).convert("RGB")) for p in sources]
    references = [_reference(weights, rgb, model == "sapnet") for rgb in rgbs]

    derainer = Derainer(model, weights=weights, device="cpu", precision="fp32")
    for rgb, ref in zip(rgbs, references):
        assert _max_diff(derainer(rgb), ref) <= 1

    runner = CliRunner()
    single = runner.invoke(app, ["image", str(sources[0]), "-o", str(tmp_path / "one.png"), "--model", model,
                                 "--weights", str(weights), "--device", "cpu", "--precision", "fp32", "-q"])
    assert single.exit_code == 0, single.output
    assert _max_diff(np.asarray(Image.open(tmp_path / "one.png")), references[0]) <= 1

    folder = tmp_path / "in"
    folder.mkdir()
    for src in sources:
        (folder / src.name).write_bytes(src.read_bytes())
    batch = runner.invoke(app, ["image", str(folder), "-o", str(tmp_path / "out"), "--model", model,
                                "--weights", str(weights), "--device", "cpu", "--precision", "fp32", "-q"])
    assert batch.exit_code == 0, batch.output
    for name, ref in zip(IMAGES, references):
        assert _max_diff(np.asarray(Image.open(tmp_path / "out" / name)), ref) <= 1


def test_api_validates_its_input(sapnet_weights):
    derainer = Derainer("sapnet", weights=sapnet_weights, device="cpu")
    with pytest.raises(ValueError, match="uint8"):
        derainer(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="H x W x 3"):
        derainer(np.zeros((8, 8), np.uint8))
    assert derainer(np.zeros((9, 13, 3), np.uint8)).shape == (9, 13, 3)
