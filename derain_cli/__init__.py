"""derain-cli: remove rain streaks from photos and videos with pretrained deep networks."""

from derain_cli.derainer import Derainer
from derain_cli.errors import DerainError
from derain_cli.models import create_model, list_models

__version__ = "0.1.0"

__all__ = ["Derainer", "DerainError", "create_model", "list_models", "__version__"]
