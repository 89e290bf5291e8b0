"""``--precision`` of training: auto's choice, bf16 autocast with channels_last on the CPU, fp32 master weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from derain_cli.checkpoints import load_state_dict
from derain_cli.errors import UsageError
from derain_cli.train import TrainConfig, Trainer
from derain_cli.train import precision as mixed
from paired_data import write_pairs

CPU = torch.device("cpu")
needs_bf16 = pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="no oneDNN bf16 on this CPU")


def test_auto_follows_the_capability_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mixed, "runs_bf16_fast", lambda: False)
    assert mixed.resolve("auto", CPU) == "fp32"
    monkeypatch.setattr(mixed, "runs_bf16_fast", lambda: True)
    assert mixed.resolve("auto", CPU) == "bf16"
    assert mixed.memory_format("bf16", CPU) == torch.channels_last
    assert mixed.memory_format("fp32", CPU) == torch.contiguous_format


def test_fp32_needs_no_autocast() -> None:
    with mixed.autocast("fp32", CPU):
        assert torch.nn.functional.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 1, 1)).dtype == torch.float32


def test_fp16_is_refused_on_the_cpu() -> None:
    with pytest.raises(UsageError, match="fp16 is for CUDA"):
        mixed.resolve("fp16", CPU)


@needs_bf16
def test_bf16_training_decreases_the_loss(tmp_path: Path) -> None:
    """Two pairs the size of the patch, batch 2: every step sees the same images (SSIM ignores flips)."""
    data = write_pairs(tmp_path / "pairs", count=2, size=(32, 32))
    config = TrainConfig(dataset=str(data), model="prenet", losses={"ssim": 1.0}, batch_size=2, patch=32, max_steps=8,
                         workers=0, device="cpu", precision="bf16", lr=2e-3)  # fmt: skip
    trainer = Trainer(config, tmp_path / "run")
    assert trainer.precision == "bf16"
    trainer.run()
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0] - 0.02, losses
    weight = trainer.network.conv0[0].weight
    assert weight.dtype == torch.float32 and weight.is_contiguous(memory_format=torch.channels_last)
    saved = load_state_dict(tmp_path / "run" / "model.safetensors")
    assert saved["conv0.0.weight"].dtype == torch.float32 and torch.equal(saved["conv0.0.weight"], weight.detach())
    assert json.loads((tmp_path / "run" / "config.json").read_text())["precision"] == "bf16"
