"""Reading the project's TOML registries (weights.toml, datasets.toml) with one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from derain_cli.errors import DerainError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed file; an unreadable or invalid file raises DerainError naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DerainError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise DerainError(f"{path}: cannot read it ({exc.strerror or exc})") from None
