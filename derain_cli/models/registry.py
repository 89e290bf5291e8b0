"""Name -> builder registry for deraining networks, in the spirit of timm's ``create_model``.

Each architecture declares, beside its builder, the range every integer option may take
(``register_model(name, ranges=...)``): options come from files (weights.toml, checkpoint
metadata), and an unchecked ``stages = 1000000`` would hang the tool, ``stages = 0`` return the
input unchanged. Names and types are read from the builder's signature (each option has a default).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Callable

from torch import nn

from derain_cli.errors import DerainError, UsageError

ModelBuilder = Callable[..., nn.Module]

_BUILDERS: dict[str, ModelBuilder] = {}
_RANGES: dict[str, dict[str, tuple[int, int]]] = {}
_VIDEO: set[str] = set()  # architectures whose input is a clip (N x 3 x T x H x W), not an image


def register_model(
    name: str, ranges: Mapping[str, tuple[int, int]] | None = None, video: bool = False
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator: register ``builder`` under ``name``; ``ranges``: inclusive bounds of its integer options;
    ``video``: the network derains clips (N x 3 x T x H x W), so only the video path can run it."""

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is already registered")
        defaults = _defaults(builder)
        for option, default in defaults.items():
            if type(default) is int and option not in (ranges or {}):
                raise ValueError(f"model {name!r}: integer option {option!r} needs a declared range")
        unknown = set(ranges or {}) - set(defaults)
        if unknown:
            raise ValueError(f"model {name!r}: ranges for options it does not take: {sorted(unknown)}")
        _BUILDERS[name] = builder
        _RANGES[name] = dict(ranges or {})
        if video:
            _VIDEO.add(name)
        return builder

    return decorate


def _defaults(builder: ModelBuilder) -> dict[str, object]:
    """The builder's keyword options and their defaults."""
    return {p.name: p.default for p in inspect.signature(builder).parameters.values()}


def list_models() -> list[str]:
    """Names of every registered architecture, sorted."""
    return sorted(_BUILDERS)


def is_model(name: str) -> bool:
    """True when ``name`` is a registered architecture."""
    return name in _BUILDERS


def is_video_model(name: str) -> bool:
    """True when the architecture ``name`` is a video model (known before building it)."""
    return name in _VIDEO


def is_video_network(network: nn.Module) -> bool:
    """True for a built network whose input is a clip: its class sets ``video_model = True`` (S2VD)."""
    return bool(getattr(network, "video_model", False))


def _builder(name: str) -> ModelBuilder:
    try:
        return _BUILDERS[name]
    except KeyError:
        raise UsageError(
            f"unknown model {name!r}; known architectures: {', '.join(list_models())}"
        ) from None


def check_options(name: str, options: Mapping[str, object], source: str) -> None:
    """Refuse (naming ``source``, the file they come from, and the option) options ``name``'s builder does not take.

    Names must be the builder's parameters, values of its defaults' type (``true``/``false`` for
    flags, whole numbers for counts) and integers inside the architecture's declared range.
    """
    defaults = _defaults(_builder(name))
    for option, value in options.items():
        if option not in defaults:
            known = ", ".join(defaults) or "none"
            raise DerainError(f"{source}: unknown option {option!r} for {name} (known: {known})")
        kind = type(defaults[option])
        if type(value) is not kind:  # exact: True is an int to isinstance, 4.0 is not a stage count
            raise DerainError(f"{source}: option {option!r} of {name} must be {kind.__name__}, got {value!r}")
        if option in _RANGES[name]:
            low, high = _RANGES[name][option]
            if not low <= value <= high:
                raise DerainError(f"{source}: option {option!r} of {name} must be in {low}..{high}, got {value!r}")


def create_model(name: str, **options: object) -> nn.Module:
    """Build the architecture registered as ``name`` with randomly initialised weights (options checked)."""
    check_options(name, options, f"{name} options")
    return _builder(name)(**options)
