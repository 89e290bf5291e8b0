"""Converting a checkpoint (an authors' ``.pth``) into a deterministic ``.safetensors`` file.

The same input always gives the same bytes (``checkpoints.save_safetensors`` writes a canonical
header), with tensors under the architecture's own names (``module.`` removed). That is what lets
weights.toml record a Hub file's sha256 before the file is published.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from derain_cli.checkpoints import (
    StateDict,
    architecture_metadata,
    check_fits,
    load_state_dict,
    save_safetensors,
)
from derain_cli.errors import CheckpointMismatchError, DerainError, UsageError
from derain_cli.models import create_model, list_models
from derain_cli.weights.cache import sha256_file


def detect_architecture(state: StateDict, source: str) -> str:
    """The first registered architecture (default options) that every tensor of ``state`` fits."""
    for name in list_models():
        try:
            check_fits(create_model(name), state, source)
        except CheckpointMismatchError:
            continue
        return name
    raise DerainError(f"{source}: fits none of the architectures {', '.join(list_models())}; pass --model")


def convert_checkpoint(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    architecture: str | None = None,
    options: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> str:
    """Write ``src`` as ``dst`` (.safetensors) with architecture metadata; returns the sha256 of ``dst``."""
    src, dst = Path(src), Path(dst)
    if dst.suffix != ".safetensors":
        raise UsageError(f"{dst}: the output must end in .safetensors")
    if dst.exists() and (not overwrite or (src.exists() and dst.samefile(src))):
        raise UsageError(f"{dst}: already exists (pass --overwrite to replace it; never the input itself)")
    state = load_state_dict(src)
    architecture = architecture or detect_architecture(state, str(src))
    options = options or {}
    net = create_model(architecture, **options)
    check_fits(net, state, str(src))
    save_safetensors({name: state[name] for name in net.state_dict()}, dst, architecture_metadata(architecture, options), overwrite)
    return sha256_file(dst)
