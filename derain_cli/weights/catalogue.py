"""The model catalogue: every weights.toml entry as a plain record, for ``derain weights list`` / ``info`` and scripts."""

from __future__ import annotations

import dataclasses
from typing import Any

from derain_cli.errors import UsageError
from derain_cli.weights.cache import cache_status
from derain_cli.weights.registry import (
    DEFAULT_MODEL,
    VIDEO_DEFAULT_MEMBERS,
    BundledSource,
    HubSource,
    Registry,
    SegmentationEntry,
    Source,
    WeightsEntry,
)

# What each kind of entry is for, in the order the catalogue shows them.
DERAINING, SEGMENTATION, LOSS_NETWORK = "deraining", "segmentation", "loss network"


def kind_of(entry: WeightsEntry) -> str:
    """``deraining`` for a checkpoint of a registered deraining architecture, else ``loss network``."""
    from derain_cli.models import is_model  # here: the models need torch

    return DERAINING if is_model(entry.architecture) else LOSS_NETWORK


def _source(source: Source) -> dict[str, Any]:
    kind = "bundled" if isinstance(source, BundledSource) else "hub" if isinstance(source, HubSource) else "url"
    return {"type": kind, **dataclasses.asdict(source)}


def model_record(entry: WeightsEntry) -> dict[str, Any]:
    """Everything weights.toml says about a checkpoint, and whether a verified copy is here (``cached``)."""
    scores = {key: dataclasses.asdict(score) if score else None for key, score in entry.scores().items()}
    return {
        "name": entry.name, "kind": kind_of(entry), "default": entry.name == DEFAULT_MODEL,
        "video_default": entry.name in VIDEO_DEFAULT_MEMBERS,
        "aliases": list(entry.aliases), "architecture": entry.architecture, "options": entry.options,
        "description": entry.description, "trained_on": entry.trained_on, "licence": entry.licence,
        "attribution": entry.attribution, "claim": entry.claim, "scores": scores, "route": entry.route or None,
        "sources": [_source(s) for s in entry.sources], "local_filenames": entry.local_filenames if entry.sources else [],
        "cached": cache_status(entry),
    }  # fmt: skip


def segmentation_record(entry: SegmentationEntry) -> dict[str, Any]:
    """Everything weights.toml says about a segmentation model (a Hub model, or a built-in network and its checkpoint)."""
    checkpoint = entry.checkpoint
    return {
        "name": entry.name, "kind": SEGMENTATION, "default": entry.default, "offline_default": entry.offline_default,
        "hf_repo": entry.hf_repo, "revision": entry.revision, "architecture": entry.architecture, "options": entry.options,
        "description": entry.description, "licence": entry.licence, "claim": entry.claim, "classes": list(entry.labels),
        "sources": [_source(s) for s in checkpoint.sources] if checkpoint else [],
        "local_filenames": checkpoint.local_filenames if checkpoint else [],
        "cached": cache_status(checkpoint) if checkpoint else "-",
    }  # fmt: skip


def catalogue(registry: Registry) -> list[dict[str, Any]]:
    """The records of every entry: deraining models, segmentation models, loss networks (each in file order)."""
    models = [model_record(e) for e in registry.models.values()]
    segmentation = [segmentation_record(e) for e in registry.segmentation.values()]
    return [r for r in models if r["kind"] == DERAINING] + segmentation + [r for r in models if r["kind"] == LOSS_NETWORK]


def record(registry: Registry, name: str) -> dict[str, Any]:
    """The record of the entry called (or aliased) ``name``: a checkpoint or a segmentation model."""
    if registry.find(name) is None and name in registry.segmentation:
        return segmentation_record(registry.segmentation[name])
    try:
        return model_record(registry.get(name))
    except UsageError:
        known = ", ".join([*registry.names(), *registry.segmentation])
        raise UsageError(f"unknown name {name!r}; known: {known} (see `derain weights list`)") from None
