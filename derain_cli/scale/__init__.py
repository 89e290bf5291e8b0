"""Deraining many images and videos on a Ray cluster (the ``[ray]`` extra): ``derain ... --ray``."""

from derain_cli.scale.cluster import RaySettings
from derain_cli.scale.dataset import BatchReport, derain_dataset

__all__ = ["BatchReport", "RaySettings", "derain_dataset"]
