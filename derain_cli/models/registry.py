"""Name -> builder registry for deraining networks, in the spirit of timm's ``create_model``."""

from __future__ import annotations

from typing import Callable

from torch import nn

from derain_cli.errors import UsageError

ModelBuilder = Callable[..., nn.Module]

_BUILDERS: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator: register ``builder`` under ``name``."""

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder

    return decorate


def list_models() -> list[str]:
    """Names of every registered architecture, sorted."""
    return sorted(_BUILDERS)


def is_model(name: str) -> bool:
    """True when ``name`` is a registered architecture."""
    return name in _BUILDERS


def create_model(name: str, **options: object) -> nn.Module:
    """Build the architecture registered as ``name`` with randomly initialised weights."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise UsageError(
            f"unknown model {name!r}; known architectures: {', '.join(list_models())}"
        ) from None
    return builder(**options)
