"""From a ``--model`` / ``--weights`` pair to an architecture, its options and a checkpoint file."""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from derain_cli.checkpoints import read_metadata
from derain_cli.errors import DerainError, UsageError
from derain_cli.models import check_options, is_model, is_video_model, list_models
from derain_cli.rain_route import RainRoute
from derain_cli.streak_stage import StreakStage
from derain_cli.weights.download import fetch_checkpoint
from derain_cli.weights.registry import ENSEMBLE_SEPARATOR, load_registry


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


def video_model_error(model: str) -> UsageError:
    """The error for running the video model ``model`` (a name or alias) on photos."""
    entry = load_registry().find(model)
    return UsageError(f"{entry.name if entry else model} is a video model: use derain video")


def refuse_video_model(model: str) -> None:
    """Raise :func:`video_model_error` when ``model`` names a video model or a video ensemble (``a+b``,
    :mod:`derain_cli.video.ensemble`): checked before any checkpoint is fetched."""
    if ENSEMBLE_SEPARATOR in model:
        raise UsageError(f"{model} is a video ensemble: use derain video")
    if is_video_model(architecture_of(model)[0]):
        raise video_model_error(model)


def stage_of(model: str) -> StreakStage | None:
    """The streak stage the weights.toml entry ``model`` runs after its network, or None (none, or not an entry)."""
    entry = load_registry().find(model)
    return StreakStage(**entry.stage) if entry is not None and entry.stage else None


def route_of(model: str) -> RainRoute | None:
    """The heavy-rain route of the weights.toml entry ``model``, or None (none, or not an entry)."""
    entry = load_registry().find(model)
    return RainRoute(**entry.route) if entry is not None and entry.route else None


def resolve_model(model: str, weights: str | os.PathLike[str] | None = None) -> ResolvedModel:
    """Resolve ``model`` (an architecture, or a weights.toml name or alias such as ``prenet-real``).

    ``weights`` given: that file, with the options it records (``_recorded_options``). Otherwise
    the entry's checkpoint, fetched and verified through the registry (``$DERAIN_WEIGHTS_DIR``
    first, then the caches, then the sources).
    """
    registry = load_registry()
    entry = registry.find(model)
    derainers = [e for e in registry.models.values() if is_model(e.architecture)]  # not the loss networks
    if entry is None and not is_model(model):
        names = [n for e in derainers for n in (e.name, *e.aliases)]
        close = difflib.get_close_matches(model, list_models() + names, n=3, cutoff=0.6)
        guess = f"did you mean {' or '.join(close)}? " if close else ""
        raise UsageError(
            f"unknown model {model!r}; {guess}architectures: {', '.join(list_models())}; "
            f"checkpoints: {', '.join(names)} (see `derain weights list`)"
        )
    if entry is not None and not is_model(entry.architecture):
        raise UsageError(
            f"{model!r} is a {entry.architecture} checkpoint (a training loss network), not a deraining model; "
            f"architectures: {', '.join(list_models())}"
        )
    if weights is None:
        if entry is None:
            ours = [e.name for e in derainers if e.architecture == model and e.sources]
            which = f"pick one of its checkpoints with --model ({', '.join(ours)}), or " if ours else ""
            raise UsageError(f"{model!r} is an architecture, not a checkpoint: {which}pass --weights PATH")
        return ResolvedModel(entry.architecture, dict(entry.options), fetch_checkpoint(entry))
    architecture = entry.architecture if entry else model
    recorded = _recorded_options(Path(weights), architecture)
    options = recorded if recorded is not None else dict(entry.options) if entry else {}
    return ResolvedModel(architecture, options, Path(weights))


def _recorded_options(path: Path, architecture: str) -> dict[str, Any] | None:
    """The architecture options a ``.safetensors`` file of ours records for ``architecture``, or None.

    A file written for a variant (e.g. by ``derain online-update --model prenet-real``) thus runs
    its own graph when passed as ``--model prenet --weights FILE``, and one written for the
    standard graph runs that one whatever the registry entry's options. The metadata is untrusted:
    options that are not a JSON object, or that its builder does not take, are refused naming the file.
    """
    metadata = read_metadata(path)
    if metadata.get("architecture") != architecture or "options" not in metadata:
        return None
    try:
        options = json.loads(metadata["options"])
    except json.JSONDecodeError:
        options = None
    if not isinstance(options, dict):
        raise DerainError(f"{path}: metadata 'options' is not a JSON object of architecture options")
    check_options(architecture, options, str(path))
    return options
