"""derain-cli: remove rain streaks from photos and videos with pretrained deep networks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from derain_cli.lazy import lazy_exports

if TYPE_CHECKING:
    from derain_cli.derainer import Derainer
    from derain_cli.errors import DerainError
    from derain_cli.models import create_model, list_models

__version__ = "0.1.0"

__all__ = ["Derainer", "DerainError", "create_model", "list_models", "__version__"]
__getattr__ = lazy_exports(__name__, {
    "Derainer": "derain_cli.derainer", "DerainError": "derain_cli.errors",
    "create_model": "derain_cli.models", "list_models": "derain_cli.models",
})  # fmt: skip
