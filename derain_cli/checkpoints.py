"""Reading and writing checkpoints: the authors' ``.pth`` state dicts and ``.safetensors``.

Tensor names are always the authors' (no ``module.`` / ``derainet.`` prefix). A checkpoint that does not fit an
architecture is refused with an error naming the first tensor that does not fit.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import Tensor, nn

from derain_cli.errors import CheckpointMismatchError, DerainError, load_failure
from derain_cli.fsutil import write_atomic

StateDict = dict[str, Tensor]

_WRAPPER_KEYS = ("state_dict", "model", "net")
# DataParallel's wrapper, then VRGNet's (its deraining network is the attribute ``derainet``)
_PREFIXES = ("module.", "derainet.")


def _strip_prefix(state: StateDict) -> StateDict:
    def name(key: str) -> str:
        for prefix in _PREFIXES:
            key = key.removeprefix(prefix)
        return key

    return {name(k): v for k, v in state.items()}


def _unwrap(obj: object, path: Path) -> StateDict:
    """Accept a plain state dict or one wrapped under ``state_dict`` / ``model`` / ``net``."""
    if isinstance(obj, dict):
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise DerainError(f"{path}: not a state dict of tensors")
    return obj


def load_state_dict(path: str | os.PathLike[str]) -> StateDict:
    """Load a checkpoint file (``.safetensors`` or a torch pickle) onto the CPU, names canonicalised."""
    path = Path(path)
    if not path.is_file():
        raise DerainError(f"{path}: checkpoint file not found")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path), device="cpu")
        else:
            state = _unwrap(torch.load(path, map_location="cpu", weights_only=True), path)
    except DerainError:
        raise
    except Exception as exc:  # torch.load raises many types on foreign bytes; all mean "unreadable"
        raise DerainError(f"{path}: not a readable checkpoint ({load_failure(exc)})") from exc
    _check_finite(state, path)
    return _strip_prefix(state)


def _check_finite(state: StateDict, path: Path) -> None:
    """Refuse NaN or infinite weights: they would turn every image black with exit status 0."""
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise DerainError(f"{path}: tensor {name!r} holds non-finite values (NaN or inf): a diverged or corrupt checkpoint")


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The string metadata of a ``.safetensors`` file ({} for other formats or none)."""
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except SafetensorError as exc:
        raise DerainError(f"{path}: not a readable checkpoint ({exc})") from exc


def fit_problem(model: nn.Module, state: StateDict) -> str | None:
    """The first tensor of ``state`` that does not fit ``model`` (missing, unexpected, shape, kind of number), or None."""
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in state:
            return f"tensor {name!r} {tuple(tensor.shape)} is missing from the checkpoint"
        if tuple(state[name].shape) != tuple(tensor.shape):
            return f"tensor {name!r} has shape {tuple(state[name].shape)}, expected {tuple(tensor.shape)}"
    extra = [name for name in state if name not in expected]
    return f"unexpected tensor {extra[0]!r}" if extra else kind_problem(model, state)


def kind_problem(model: nn.Module, state: StateDict) -> str | None:
    """The first tensor of ``state`` whose kind of number (floating point, integer, boolean) is not the model's, or None.

    Bool or int8 weights would load (cast to float) and derain to garbage with exit status 0."""
    expected = model.state_dict()
    for name, tensor in state.items():
        if name in expected and _kind(tensor) != _kind(expected[name]):
            return f"tensor {name!r} holds {tensor.dtype} values, expected {_kind(expected[name])} numbers"
    return None


def check_fits(model: nn.Module, state: StateDict, source: str) -> None:
    """Raise :class:`CheckpointMismatchError` naming the first tensor of ``state`` that does not fit."""
    problem = fit_problem(model, state)
    if problem:
        raise CheckpointMismatchError(f"{source}: does not fit this architecture: {problem}")


def _kind(tensor: Tensor) -> str:
    """What kind of number a tensor holds."""
    if tensor.is_floating_point():
        return "floating-point"
    if tensor.is_complex():
        return "complex"
    return "boolean" if tensor.dtype == torch.bool else "integer"


def load_into(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Load the checkpoint at ``path`` into ``model`` after checking that every tensor fits."""
    state = load_state_dict(path)
    check_fits(model, state, str(path))
    model.load_state_dict(state)
    return model


def save_safetensors(
    state: StateDict, path: str | os.PathLike[str], metadata: dict[str, str] | None = None, overwrite: bool = False
) -> Path:
    """Write ``state`` (names canonicalised, contiguous CPU tensors) atomically and byte-deterministically.

    An existing ``path`` is replaced only with ``overwrite``."""
    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in _strip_prefix(state).items()}
    return write_atomic(path, canonical_safetensors(save(tensors, metadata=metadata or {})), overwrite)


def save_torch(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a training state with ``torch.save``, atomically, replacing ``path``.

    Serialised in memory first: torch's own file writer turns a full disk into an opaque RuntimeError."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return write_atomic(path, buffer.getbuffer(), overwrite=True)


def canonical_safetensors(data: bytes) -> bytes:
    """``data`` (a safetensors file) with its header in a fixed order: sorted metadata, tensors by offset.

    The safetensors writer emits metadata in hash order, which differs between runs; a fixed header
    makes a file's sha256 reproducible (weights.toml records hashes before files are published).
    """
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    meta = dict(sorted(header.pop("__metadata__", {}).items()))
    tensors = dict(sorted(header.items(), key=lambda item: item[1]["data_offsets"]))
    text = json.dumps({"__metadata__": meta, **tensors}, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format aligns the data to 8 bytes
    return len(text).to_bytes(8, "little") + text + data[8 + size :]


def architecture_metadata(name: str, options: dict[str, object] | None = None) -> dict[str, str]:
    """Metadata that records which registered architecture a checkpoint belongs to."""
    return {"format": "pt", "architecture": name, "options": json.dumps(options or {}, sort_keys=True)}
