"""Package attributes imported on first use (PEP 562): ``derain --help`` must not pay for torch, OpenCV or PyAV."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports each name of ``exports`` (name -> module) when first read."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(exports[name]), name)
        import_module(package).__dict__[name] = value  # later reads skip this function
        return value

    return __getattr__
