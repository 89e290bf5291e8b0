"""`derain train`: named data sets, random-patch loading, the training loop, multi-process runs."""

from derain_cli.train.config import TrainConfig
from derain_cli.train.trainer import Plan, Trainer

__all__ = ["Plan", "TrainConfig", "Trainer"]
