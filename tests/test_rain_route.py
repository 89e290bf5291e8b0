"""The heavy-rain route: a second network for images the first one removes much rain from."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from derain_cli.checkpoints import architecture_metadata, save_safetensors
from derain_cli.cli import app
from derain_cli.derainer import Derainer
from derain_cli.errors import DerainError
from derain_cli.models import create_model
from derain_cli.rain_route import RainRoute, rain_strength
from derain_cli.weights.registry import DEFAULT_MODEL, BundledSource, load_registry


def test_rain_strength_counts_what_brightened_in_grey_levels() -> None:
    clean = torch.rand(2, 3, 16, 16) * 0.5
    rainy = clean.clone()
    rainy[0] += 0.1  # rain everywhere on the first image: 0.1 of full scale = 21.9 grey levels of Y
    darker = clean - 0.1  # a network that brightens (or invents) is not credited with removing rain
    torch.testing.assert_close(rain_strength(rainy, clean), torch.tensor([0.1 * (65.481 + 128.553 + 24.966), 0.0]))
    assert rain_strength(darker.clamp(0), clean).max() == 0


def test_route_weight_rises_linearly_between_low_and_high() -> None:
    route = RainRoute("heavy", 5.0, 10.0)
    clean = torch.full((4, 3, 8, 8), 0.2)
    levels = torch.tensor([0.0, 5.0, 7.5, 20.0]) / (65.481 + 128.553 + 24.966)
    rainy = clean + levels.view(-1, 1, 1, 1)
    torch.testing.assert_close(route.weights(rainy, clean), torch.tensor([0.0, 0.0, 0.5, 1.0]), atol=1e-5, rtol=0)


def test_route_table_is_checked_naming_the_file() -> None:
    assert RainRoute.from_table({"model": "m", "low": 5, "high": 10.5}, "x.toml") == RainRoute("m", 5.0, 10.5)
    with pytest.raises(DerainError, match=r"x.toml: a route needs exactly 'model', 'low' and 'high', got high, model$"):
        RainRoute.from_table({"model": "m", "high": 10}, "x.toml")
    with pytest.raises(DerainError, match=r"x.toml: route 'low' must be a number of grey levels, got '5'"):
        RainRoute.from_table({"model": "m", "low": "5", "high": 10}, "x.toml")
    with pytest.raises(DerainError, match=r"x.toml: rain route: needs 0 <= low < high <= 255"):
        RainRoute.from_table({"model": "m", "low": 10, "high": 10}, "x.toml")


def test_registry_refuses_a_route_to_nowhere_or_a_second_step(tmp_path: Path) -> None:
    toml = tmp_path / "w.toml"
    toml.write_text('[models.a]\narchitecture = "sapnet"\nroute = { model = "b", low = 5, high = 10 }\n[models.b]\narchitecture = "sapnet"\naliases = ["bee"]\n')
    assert load_registry(toml).get("a").route == {"model": "b", "low": 5.0, "high": 10.0} and load_registry(toml).get("b").route == {}
    toml.write_text('[models.a]\narchitecture = "sapnet"\nroute = { model = "c", low = 5, high = 10 }\n')
    with pytest.raises(DerainError, match=r"w.toml: \[models.a.route\] leads to 'c', which is not an entry of this file"):
        load_registry(toml)
    toml.write_text('[models.a]\narchitecture = "sapnet"\nroute = { model = "a", low = 5, high = 10 }\n')
    with pytest.raises(DerainError, match=r"leads to 'a', which routes again: a route has one step"):
        load_registry(toml)
    toml.write_text('[models.a]\narchitecture = "sapnet"\nroute = { model = "v", low = 5, high = 10 }\n[models.v]\narchitecture = "s2vd"\n')
    with pytest.raises(DerainError, match=r"a route joins two single-image models \(v or a is a video model\)"):
        load_registry(toml)


def _checkpoint(folder: Path, name: str, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    path = save_safetensors(create_model("prenet", stages=2).state_dict(), folder / f"{name}.safetensors", architecture_metadata("prenet", {"stages": 2}), overwrite=True)
    return path.name, hashlib.sha256(path.read_bytes()).hexdigest()


def _registry(folder: Path, low: float, high: float) -> None:
    """A weights.toml with `light` routed to `heavy` (both found in $DERAIN_WEIGHTS_DIR, never downloaded)."""
    tables = []
    for name, seed in (("light", 1), ("heavy", 2)):
        filename, sha = _checkpoint(folder, name, seed)
        route = f'route = {{ model = "heavy", low = {low}, high = {high} }}\n' if name == "light" else ""
        tables.append(f'[models.{name}]\narchitecture = "prenet"\noptions = {{ stages = 2 }}\n{route}'
                      f'[[models.{name}.sources]]\nurl = "http://127.0.0.1:9/{filename}"\nfilename = "{filename}"\nsha256 = "{sha}"\n')  # fmt: skip
    (folder / "weights.toml").write_text("\n".join(tables))


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DERAIN_WEIGHTS_TOML", str(tmp_path / "weights.toml"))
    monkeypatch.setenv("DERAIN_WEIGHTS_DIR", str(tmp_path))
    return tmp_path


def test_derainer_blends_toward_the_routed_network_by_rain_strength(zoo: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = [rng.integers(0, 256, (48, 80, 3), dtype=np.uint8) for _ in range(2)]
    _registry(zoo, 254.0, 255.0)
    x = torch.from_numpy(np.stack(rgb)).permute(0, 3, 1, 2).float() / 255
    light = Derainer("light", device="cpu", precision="fp32", route=False)
    heavy = Derainer("heavy", device="cpu", precision="fp32")
    first, second = light.derain_tensor(x), heavy.derain_tensor(x)
    strength = rain_strength(x, first)
    assert strength[0] != strength[1]

    never = Derainer("light", device="cpu", precision="fp32")
    assert never.route == RainRoute("heavy", 254.0, 255.0)
    assert Derainer("light", zoo / "light.safetensors", device="cpu").route is None  # one's own checkpoint: no route
    torch.testing.assert_close(never.derain_tensor(x), first, atol=0, rtol=0)
    assert never._routed_to is None and never.routed == 0  # below `low` the second network is never even built

    # the first image exactly halfway between low and high, the second beyond high
    low = float(strength[0]) - 1
    _registry(zoo, low, low + 2)
    routed = Derainer("light", device="cpu", precision="fp32")
    out = routed.derain_tensor(x)
    assert routed.routed == int((strength > low).sum())
    expected_second = second[1] if strength[1] >= low + 2 else first[1] if strength[1] <= low else None
    torch.testing.assert_close(out[0], (first[0] + second[0]) / 2, atol=2e-6, rtol=0)
    if expected_second is not None:
        torch.testing.assert_close(out[1], expected_second, atol=2e-6, rtol=0)
    batch = routed.derain_batch(rgb)  # a batch routes image by image, as single calls do
    for frame, one in zip(batch, rgb):
        np.testing.assert_array_equal(frame, routed(one))
    banded = Derainer("light", device="cpu", precision="fp32", tile=32)  # both networks in 32-px bands / tiles
    torch.testing.assert_close(banded.derain_tensor(x), out, atol=1e-4, rtol=0)
    assert banded._second().tile == 32


def test_shipped_default_routes_to_a_bundled_network_and_leaves_light_rain_alone() -> None:
    registry = load_registry()
    default = registry.get(DEFAULT_MODEL)
    if not default.route:
        pytest.skip(f"{DEFAULT_MODEL} has no heavy-rain route")
    target = registry.get(default.route["model"])
    assert all(isinstance(s, BundledSource) for s in (*default.sources, *target.sources))  # offline, as the default must be
    rng = np.random.default_rng(1)
    photo = (rng.random((64, 64, 3)) * 40 + 100).astype(np.uint8)  # flat, rain-free: nothing removed
    routed = Derainer(device="cpu", precision="fp32")
    np.testing.assert_array_equal(routed(photo), Derainer(device="cpu", precision="fp32", route=False)(photo))
    assert routed._routed_to is None


@pytest.mark.parametrize(("low", "high", "said"), [(0.0, 1.0, "; 2 heavy-rain image(s) also ran heavy"), (254.0, 255.0, None)])
def test_derain_image_says_how_many_images_took_the_route(zoo: Path, low: float, high: float, said: str | None) -> None:
    rng = np.random.default_rng(3)
    for k in range(2):
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(zoo / f"in{k}.png")
    _registry(zoo, low, high)
    result = CliRunner().invoke(app, ["image", str(zoo / "in*.png"), "-o", str(zoo / "out"), "-m", "light", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    summary = [line for line in result.stderr.splitlines() if line.startswith("Derained 2 image(s)")]
    assert len(summary) == 1, result.stderr
    assert summary[0].endswith(said) if said else "heavy-rain" not in summary[0]
