"""Training losses: SSIM, SAPNet's perceptual contrastive loss, LPIPS, UBS, HCN's own loss and the task-driven semantic losses."""

from derain_cli.losses.base import FrozenNet, LossBatch
from derain_cli.losses.composite import PAPER_WEIGHTS, CompositeLoss, LossTerm, parse_losses
from derain_cli.losses.lpips import LPIPSLinear, LPIPSLoss
from derain_cli.losses.pcl import PerceptualContrastiveLoss
from derain_cli.losses.ssim import SSIMLoss, ssim
from derain_cli.losses.ubs import SegmentationHead, UBSLoss, focal_loss
from derain_cli.losses.vgg import VGG16Features

__all__ = [
    "PAPER_WEIGHTS", "CompositeLoss", "FrozenNet", "LPIPSLinear", "LPIPSLoss", "LossBatch", "LossTerm",
    "PerceptualContrastiveLoss", "SSIMLoss", "SegmentationHead", "UBSLoss", "VGG16Features", "focal_loss",
    "parse_losses", "ssim",
]  # fmt: skip
