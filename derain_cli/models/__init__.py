"""Deraining architectures and their registry."""

from derain_cli.models.registry import create_model, is_model, list_models, register_model
from derain_cli.models import recurrent as _recurrent  # noqa: F401  (registers sapnet, prenet)
from derain_cli.models import hcn as _hcn  # noqa: F401  (registers hcn)
from derain_cli.models import vrgnet as _vrgnet  # noqa: F401  (registers vrgnet-prenet)
from derain_cli.models import brn as _brn  # noqa: F401  (registers brn)
from derain_cli.models import aidnet as _aidnet  # noqa: F401  (registers aidnet)

__all__ = ["create_model", "is_model", "list_models", "register_model"]
