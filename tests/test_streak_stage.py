"""The streak stage: keeps thin bright streaks a network removed, drops tone shifts and flattened texture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from derain_cli import Derainer
from derain_cli.checkpoints import architecture_metadata, save_safetensors
from derain_cli.errors import DerainError
from derain_cli.models import create_model
from derain_cli.streak_stage import StreakStage, gaussian_blur
from derain_cli.weights.registry import load_registry


def _background(seed: int = 0, size: int = 64) -> torch.Tensor:
    """A smooth colour gradient with faint noise, 1 x 3 x size x size in [0, 1]."""
    ramp = torch.linspace(0.2, 0.7, size)
    image = torch.stack([ramp[None, :].expand(size, size), ramp[:, None].expand(size, size), torch.full((size, size), 0.4)])
    return (image + 0.003 * torch.randn(3, size, size, generator=torch.Generator().manual_seed(seed)))[None].clamp(0, 1)


def _streaks(size: int = 64) -> torch.Tensor:
    rain = torch.zeros(1, 1, size, size)
    rain[..., 5:40, 10] = 0.3
    rain[..., 20:60, 33] = 0.25
    rain[..., 8:50, 51] = 0.3
    return rain


def test_removes_thin_bright_streaks_the_network_removed() -> None:
    clean = _background()
    rainy = (clean + _streaks()).clamp(0, 1)
    out = StreakStage()(rainy, clean)  # a network that removed exactly the rain
    assert (out - clean).abs().mean() < 0.25 * (rainy - clean).abs().mean()
    streak = _streaks()[0, 0] > 0
    assert (out - clean)[0, :, streak].abs().mean() < 0.25 * 0.28


def test_leaves_tone_shifts_and_darkening_rain_free_photos_alone() -> None:
    photo = _background(1)
    assert torch.equal(StreakStage()(photo, photo), photo)
    darker = (photo - 0.05).clamp(0, 1)  # the network darkened the whole picture
    assert (StreakStage()(photo, darker) - photo).abs().max() < 1e-6
    assert (StreakStage(low_keep=1.0)(photo, darker) - darker).abs()[..., 16:-16, 16:-16].max() < 0.01


def test_keeps_texture_the_network_flattened() -> None:
    texture = (0.5 + 0.12 * torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    flattened = torch.cat([gaussian_blur(texture[:, c : c + 1], 2.0) for c in range(3)], 1)
    out = StreakStage()(texture, flattened)
    assert (out - texture).square().mean() < 0.1 * (flattened - texture).square().mean()


def test_gate_trusts_the_network_where_rain_is_dense_only() -> None:
    clean = _background(4)
    dense = torch.zeros(1, 1, 64, 64)
    dense[..., ::8] = 0.35  # a streak every 8 columns, everywhere
    rainy = (clean + dense).clamp(0, 1)
    network = (clean - 0.03).clamp(0, 1)  # removes the rain, and changes tone as networks do
    gated = StreakStage(gate_low=0.3, gate_high=0.6)
    assert (gated(rainy, network) - network).abs().max() < 1e-5  # dense brightening streaks: the network's output
    assert (StreakStage()(rainy, network) - network).abs().mean() > 0.02  # without the gate: the tone change is dropped
    texture = (0.5 + 0.12 * torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(5))).clamp(0, 1)
    flattened = torch.cat([gaussian_blur(texture[:, c : c + 1], 2.0) for c in range(3)], 1)
    torch.testing.assert_close(gated(texture, flattened), StreakStage()(texture, flattened))  # symmetric change: no trust


def test_settings_are_checked_naming_the_source() -> None:
    assert StreakStage.from_table({"k": 2, "floor": 0.01}, "x.toml") == StreakStage(k=2.0, floor=0.01)
    with pytest.raises(DerainError, match=r"x.toml: unknown streak-stage setting 'gain'"):
        StreakStage.from_table({"gain": 1.0}, "x.toml")
    with pytest.raises(DerainError, match=r"x.toml: streak-stage setting 'k' must be a number"):
        StreakStage.from_table({"k": "big"}, "x.toml")
    with pytest.raises(DerainError, match=r"x.toml: streak stage: low_sigma must be in 0.5..64"):
        StreakStage.from_table({"low_sigma": float("nan")}, "x.toml")
    with pytest.raises(DerainError, match=r"gate_high \(0.2\) must not be below gate_low \(0.5\)"):
        StreakStage.from_table({"gate_low": 0.5, "gate_high": 0.2}, "x.toml")


def test_registry_entry_carries_its_stage_and_refuses_bad_ones(tmp_path: Path) -> None:
    toml = tmp_path / "weights.toml"
    toml.write_text('[models.a]\narchitecture = "sapnet"\nstage = { k = 2.5, low_sigma = 5 }\n[models.b]\narchitecture = "sapnet"\n')
    registry = load_registry(toml)
    assert registry.get("a").stage == StreakStage(k=2.5, low_sigma=5.0).to_table() and registry.get("b").stage == {}
    toml.write_text('[models.a]\narchitecture = "sapnet"\nstage = { k = -1 }\n')
    with pytest.raises(DerainError, match=r"\[models.a.stage\]: streak stage: k must be in 0..20,"):
        load_registry(toml)


def test_derainer_runs_the_stage_after_its_network(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = create_model("prenet", stages=2)
    weights = save_safetensors(net.state_dict(), tmp_path / "p.safetensors", architecture_metadata("prenet", {"stages": 2}))
    stage = StreakStage(k=1.0)
    plain = Derainer("prenet", weights, device="cpu", precision="fp32", stage=False)
    staged = Derainer("prenet", weights, device="cpu", precision="fp32", stage=stage)
    assert plain.stage is None and Derainer("prenet", weights, device="cpu", precision="fp32").stage is None
    rgb = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    expected = stage(x, plain.derain_tensor(x))
    torch.testing.assert_close(staged.derain_tensor(x), expected, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(staged.derain_batch([rgb])[0], staged(rgb))
