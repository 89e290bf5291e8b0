"""Deraining architectures and their registry."""

from derain_cli.models import aidnet as _aidnet  # noqa: F401  (registers aidnet)
from derain_cli.models import brn as _brn  # noqa: F401  (registers brn)
from derain_cli.models import hcn as _hcn  # noqa: F401  (registers hcn)
from derain_cli.models import jorder_e as _jorder_e  # noqa: F401  (registers jorder-e)
from derain_cli.models import litenet as _litenet  # noqa: F401  (registers litenet)
from derain_cli.models import recurrent as _recurrent  # noqa: F401  (registers sapnet, prenet)
from derain_cli.models import s2vd as _s2vd  # noqa: F401  (registers s2vd)
from derain_cli.models import spanet as _spanet  # noqa: F401  (registers spanet)
from derain_cli.models import vrgnet as _vrgnet  # noqa: F401  (registers vrgnet-prenet)
from derain_cli.models.registry import (
    check_options,
    create_model,
    is_model,
    is_video_model,
    is_video_network,
    list_models,
    register_model,
)

__all__ = [
    "check_options",
    "create_model",
    "is_model",
    "is_video_model",
    "is_video_network",
    "list_models",
    "register_model",
]
