"""From a ``--model`` / ``--weights`` pair to an architecture, its options and a checkpoint file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from derain_cli.errors import DerainError, UsageError
from derain_cli.models import is_model, list_models
from derain_cli.weights.download import fetch_checkpoint
from derain_cli.weights.registry import load_registry


@dataclass(frozen=True)
class ResolvedModel:
    """What to build (``architecture`` with ``options``) and which checkpoint to load into it."""

    architecture: str
    options: dict[str, Any]
    checkpoint: Path


def architecture_of(model: str) -> tuple[str, dict[str, Any]]:
    """The architecture and options ``model`` names: an architecture, or a weights.toml name or alias."""
    entry = load_registry().find(model)
    return (entry.architecture, dict(entry.options)) if entry else (model, {})


def resolve_model(model: str, weights: str | os.PathLike[str] | None = None) -> ResolvedModel:
    """Resolve ``model`` (an architecture, or a weights.toml name or alias such as ``prenet-real``).

    ``weights`` given: that file. Otherwise the entry's checkpoint, fetched and verified through the
    registry (``$DERAIN_WEIGHTS_DIR`` first, then the caches, then the sources).
    """
    registry = load_registry()
    entry = registry.find(model)
    if entry is None:
        if not is_model(model):
            raise UsageError(
                f"unknown model {model!r}; architectures: {', '.join(list_models())}; "
                f"checkpoints: {', '.join(registry.names())}"
            )
        if weights is None:
            raise DerainError(f"no registered checkpoint for model {model!r}: pass --weights PATH")
        return ResolvedModel(model, {}, Path(weights))
    checkpoint = Path(weights) if weights is not None else fetch_checkpoint(entry)
    return ResolvedModel(entry.architecture, dict(entry.options), checkpoint)
