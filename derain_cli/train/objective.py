"""The training objective of a run: its loss terms, with every frozen network built once."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from derain_cli.errors import UsageError
from derain_cli.losses.base import LossBatch
from derain_cli.losses.composite import CompositeLoss, LossTerm
from derain_cli.losses.hcn import hcn_loss
from derain_cli.losses.lpips import LPIPS_LAYERS, LPIPSLinear, LPIPSLoss
from derain_cli.losses.pcl import PCL_WEIGHTS, PerceptualContrastiveLoss
from derain_cli.losses.pixel import GradientLoss, L1Loss, ToneLoss
from derain_cli.losses.ssim import SSIMLoss
from derain_cli.losses.ubs import UBS_LAYERS, SegmentationHead, UBSLoss
from derain_cli.losses.vgg import VGG16_LAYERS, VGG16Features
from derain_cli.train.config import TrainConfig

VGG_WEIGHTS = "vgg16-imagenet"
LPIPS_WEIGHTS = "lpips-vgg"
LOSS_NETWORKS = (VGG_WEIGHTS, LPIPS_WEIGHTS)
_VGG_LAYERS_OF = {"pcl": tuple(PCL_WEIGHTS), "lpips": LPIPS_LAYERS, "ubs": UBS_LAYERS}


def loss_network_file(name: str, overrides: dict[str, str]) -> Path:
    """The weights of loss network ``name``: the file given with --loss-weights, else the registry's (verified)."""
    if name in overrides:
        return Path(overrides[name])
    from derain_cli.weights.download import fetch_checkpoint
    from derain_cli.weights.registry import load_registry

    return fetch_checkpoint(load_registry().get(name), hint=f"pass --loss-weights {name}=PATH")


def check_loss_weights(overrides: dict[str, str]) -> None:
    unknown = [name for name in overrides if name not in LOSS_NETWORKS]
    if unknown:
        raise UsageError(f"--loss-weights {unknown[0]}: unknown network; known: {', '.join(LOSS_NETWORKS)}")


class HCNObjective(torch.nn.Module):
    """HCN's own recipe (SSIM of its three sub-networks plus the multi-scale constraints), as one term."""

    def forward(self, batch: LossBatch) -> tuple[Tensor, dict[str, Tensor]]:
        return hcn_loss((batch.output, batch.extras), batch.clean)


def build_objective(config: TrainConfig, device: torch.device) -> CompositeLoss:
    """The weighted loss terms of ``config``; frozen networks are loaded once and moved to ``device``."""
    check_loss_weights(config.loss_weights)
    terms: list[LossTerm] = []
    if config.model == "hcn":
        terms.append(LossTerm("hcn", 1.0, HCNObjective()))
    layers = {layer for name in config.losses for layer in _VGG_LAYERS_OF.get(name, ())}
    vgg = None
    if layers:
        ordered = tuple(sorted(layers, key=VGG16_LAYERS.__getitem__))
        vgg = VGG16Features.from_file(loss_network_file(VGG_WEIGHTS, config.loss_weights), ordered).to(device)
    for name, weight in config.losses.items():
        if name == "ssim":
            module: torch.nn.Module = SSIMLoss()
        elif name == "l1":
            module = L1Loss()
        elif name == "grad":
            module = GradientLoss()
        elif name == "tone":
            module = ToneLoss()
        elif name == "pcl":
            module = PerceptualContrastiveLoss(vgg)
        elif name == "lpips":
            module = LPIPSLoss(vgg, LPIPSLinear.from_file(loss_network_file(LPIPS_WEIGHTS, config.loss_weights)).to(device))
        else:
            module = UBSLoss(vgg, SegmentationHead(seed=config.seed).to(device))
        terms.append(LossTerm(name, weight, module.to(device)))
    if config.task_driven:
        terms += _task_terms(config, device)
    return CompositeLoss(terms)


def _task_terms(config: TrainConfig, device: torch.device) -> list[LossTerm]:
    from derain_cli.losses.task import FeatureMatching, FrozenSegmenter, SemanticCrossEntropy

    segmenter = FrozenSegmenter.from_pretrained(config.seg_model, str(device))
    terms = []
    if config.task_ce_weight:
        terms.append(LossTerm("task_ce", config.task_ce_weight, SemanticCrossEntropy(segmenter), config.task_start))
    if config.task_feature_weight:
        terms.append(LossTerm("task_feat", config.task_feature_weight, FeatureMatching(segmenter), config.task_start))
    return terms
