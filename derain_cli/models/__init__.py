"""Deraining architectures and their registry."""

from derain_cli.models.registry import check_options, create_model, is_model, list_models, register_model
from derain_cli.models import recurrent as _recurrent  # noqa: F401  (registers sapnet, prenet)
from derain_cli.models import hcn as _hcn  # noqa: F401  (registers hcn)
from derain_cli.models import jorder_e as _jorder_e  # noqa: F401  (registers jorder-e)
from derain_cli.models import spanet as _spanet  # noqa: F401  (registers spanet)

__all__ = ["check_options", "create_model", "is_model", "list_models", "register_model"]
