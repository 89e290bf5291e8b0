"""Validation during training: Y-channel PSNR / SSIM of the network on a paired set, as `derain eval` measures."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from derain_cli.errors import DerainError
from derain_cli.evaluate import evaluate
from derain_cli.pairs import PairedSet


def validate(network: nn.Module, data: PairedSet, device: torch.device) -> dict[str, float]:
    """``{"val_psnr", "val_ssim"}`` of ``network`` on every pair of ``data`` (found when the run starts).

    Measured in fp32 on a copy in the default layout (a bf16 run trains in channels_last, slow in fp32).
    """
    network = copy.deepcopy(network).to(memory_format=torch.contiguous_format).eval()

    @torch.no_grad()
    def method(rainy: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(rainy).permute(2, 0, 1)[None].to(device, torch.float32).div_(255.0)
        y = network(x)[0].float().clamp_(0, 1).mul_(255.0).round_()
        return y[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()

    report = evaluate(data, {"model": method})
    if report.failures:  # a pair left out would change what the numbers measure, or leave NaN
        raise DerainError(f"--val: {len(report.failures)} pair(s) failed, e.g. {report.failures[0]}; fix or remove them and --resume")
    scores = report.models["model"].mean()
    return {"val_psnr": round(scores.psnr, 4), "val_ssim": round(scores.ssim, 5)}
