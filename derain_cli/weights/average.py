"""Weight averaging: the mean of several checkpoints of one run (stochastic weight averaging, Izmailov et al. 2018).

Late in a run at a constant learning rate the weights wander around a good region; their mean sits
nearer its centre and usually generalises better than any single one of them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from derain_cli.checkpoints import load_state_dict, read_metadata, save_safetensors
from derain_cli.errors import DerainError, UsageError
from derain_cli.weights.cache import sha256_file


def average_checkpoints(
    sources: list[str | os.PathLike[str]], dst: str | os.PathLike[str], weights: list[float] | None = None,
    overwrite: bool = False, layers: list[str] | None = None,
) -> str:  # fmt: skip
    """Write the tensor-wise (weighted) mean of ``sources`` (same names and shapes) to ``dst``; returns its sha256.

    ``weights`` (default: equal) are normalised to sum 1: ``[0.3, 0.7]`` of a fine-tuned model and its
    starting point is the point 30 % of the way from the start (a "model soup" of the two). With
    ``layers`` (tensor-name prefixes) only those tensors are averaged and the rest are the first
    source's: blocks differ in what they do, so a soup of some blocks can keep one model's skill at a
    smaller cost to the other's (docs/real-rain.md). The architecture metadata of the first source is
    kept (a ``.safetensors`` of ours records it), and the averaged files, weights and layers are
    recorded under ``averaged``.
    """
    dst = Path(dst)
    if dst.suffix != ".safetensors":
        raise UsageError(f"{dst}: the output must end in .safetensors")
    if len(sources) < 2:
        raise UsageError("weights average needs at least two checkpoints")
    weights = weights or [1.0] * len(sources)
    if len(weights) != len(sources) or not all(math.isfinite(w) and w >= 0 for w in weights) or max(weights) <= 0:
        raise UsageError(f"--weights: {len(sources)} finite non-negative numbers with a positive sum, one per checkpoint")
    scaled = [w / max(weights) for w in weights]  # in [0, 1] first: 1e308 + 1e308 would overflow to inf
    shares = [w / sum(scaled) for w in scaled]
    total: dict[str, torch.Tensor] = {}
    dtypes: dict[str, torch.dtype] = {}
    for number, source in enumerate(sources):
        state = load_state_dict(source)
        if not number:
            first = state  # its tensors are the ones --layers leaves as they are
        if number and state.keys() != total.keys():
            missing = sorted(set(total) ^ set(state))[0]
            raise DerainError(f"{source}: tensor {missing!r} is not in every checkpoint; they are not of one model")
        for name, tensor in state.items():
            if number and tensor.shape != total[name].shape:
                raise DerainError(f"{source}: tensor {name!r} is {tuple(tensor.shape)}, not {tuple(total[name].shape)}")
            if not tensor.is_floating_point():
                raise DerainError(f"{source}: tensor {name!r} holds {tensor.dtype} values; only floating-point weights are averaged")
            part = tensor.double() * shares[number]
            total[name] = part if not number else total[name] + part
            # the widest type of any source, whatever their order
            dtypes[name] = torch.promote_types(dtypes.get(name, tensor.dtype), tensor.dtype)
    unused = [prefix for prefix in layers or [] if not any(name.startswith(prefix) for name in total)]
    if unused:
        blocks = ", ".join(dict.fromkeys(name.split(".")[0] for name in total))
        raise UsageError(f"--layers {unused[0]!r}: no tensor of {sources[0]} starts with it (its blocks: {blocks})")
    chosen = {name for name in total if not layers or name.startswith(tuple(layers))}
    mean = {name: value.to(dtypes[name]) if name in chosen else first[name] for name, value in total.items()}
    metadata = {k: v for k, v in read_metadata(sources[0]).items() if k in ("architecture", "options")}
    metadata["averaged"] = ", ".join(f"{Path(s).name} x {share:.4g}" for s, share in zip(sources, shares))
    if layers:
        metadata["averaged"] += f" (only {', '.join(layers)}; the rest {Path(sources[0]).name})"
    save_safetensors(mean, dst, metadata, overwrite)
    return sha256_file(dst)
