"""Writing a synthetic paired set: ``OUT/input/<name>`` (rainy), ``OUT/target/<name>`` (clean), ``OUT/synth.jsonl``.

The layout is the one ``derain eval`` and ``derain train`` read. Each rendering's seed is derived from
``--seed``, the output name and the version number ``k`` (:func:`image_seed`), never from the order of
the inputs, so adding or removing an input leaves every other rendering unchanged. Every file is written
under a temporary name and renamed when complete; nothing is written over an existing file unless asked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from derain_cli.errors import DerainError, UsageError, one_line
from derain_cli.fsutil import atomic_output
from derain_cli.image_batch import Failure, _Found
from derain_cli.imageio import read_image, to_uint8, write_rgb8
from derain_cli.synth.params import RainParams, draw_params
from derain_cli.synth.render import RainRenderer

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v")
LOG_NAME = "synth.jsonl"


@dataclass(frozen=True)
class SynthJob:
    """One rendering: the clean source, the ``k``-th version of it, and the two files it becomes."""

    source: Path
    name: str  # output stem, e.g. "street" or "street_2"
    seed: int
    rainy: Path
    clean: Path


def image_seed(seed: int, name: str) -> int:
    """The rendering seed of output ``name``: the first 4 bytes of SHA-256("<seed>:<name>"), below 2**31."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def check_output_folder(found: Iterable[_Found], inputs: Iterable[str], output: Path) -> None:
    """Refuse an output that is a file, or that writes into an input folder: OUT inside a folder given as
    input, OUT (or OUT/input, OUT/target) being the folder of an input file, or an input inside OUT."""
    for folder in (output, output / "input", output / "target"):
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{folder}: is a file; -o takes a folder (it receives input/, target/ and {LOG_NAME})")
    out = output.resolve()
    for folder in {Path(text).resolve() for text in inputs if Path(text).is_dir()}:
        if out == folder or folder in out.parents:
            raise UsageError(f"{output}: is inside the input folder {folder}; choose an output folder elsewhere")
    written = {out, out / "input", out / "target"}
    for item in found:
        path = item.path.resolve()
        if path.parent in written or out in path.parents:
            raise UsageError(f"{item.path}: lies inside the output folder {output}; choose another output folder")


def _stem(item: _Found) -> str:
    """Output stem: the file stem, prefixed by its sub-folders (joined by ``_``) when found under a folder."""
    relative = item.path.relative_to(item.root).with_suffix("") if item.root else Path(item.path.stem)
    return "_".join(relative.parts)


def plan(found: list[_Found], output: Path, seed: int, per_image: int, overwrite: bool) -> tuple[list[SynthJob], list[Failure]]:
    """Every rendering with its seed and output files; an input with any colliding or existing output is
    a failure as a whole (none of its versions is rendered)."""
    jobs: list[SynthJob] = []
    failures: list[Failure] = []
    claimed: dict[str, Path] = {}
    for item in found:
        suffix = ".mp4" if item.path.suffix.lower() in VIDEO_SUFFIXES else ".png"
        names = [_stem(item)] if per_image == 1 else [f"{_stem(item)}_{k}" for k in range(per_image)]
        versions = [SynthJob(item.path, n, image_seed(seed, n), output / "input" / f"{n}{suffix}", output / "target" / f"{n}{suffix}") for n in names]
        taken = [job for job in versions if job.name in claimed]
        existing = [path for job in versions for path in (job.rainy, job.clean) if path.exists()]
        if taken:
            failures.append(Failure(str(item.path), f"output {taken[0].rainy} is already the output of {claimed[taken[0].name]}"))
        elif existing and not overwrite:
            failures.append(Failure(str(item.path), f"output {existing[0]} already exists; pass --overwrite to replace it"))
        else:
            claimed.update((job.name, item.path) for job in versions)
            jobs.extend(versions)
    return jobs, failures


def record(job: SynthJob, preset: str, params: RainParams, **extra: Any) -> dict[str, Any]:
    """The synth.jsonl line of one rendering: enough to reproduce it with ``draw_params``/``RainRenderer``."""
    return {
        "source": str(job.source), "input": f"input/{job.rainy.name}", "target": f"target/{job.clean.name}",
        "preset": preset, "seed": job.seed, **extra, "params": params.to_json(),
    }  # fmt: skip


def read_clean(path: Path) -> np.ndarray:
    """The clean image as the renderer sees it and the target file keeps it: H x W x 3 uint8 RGB."""
    return to_uint8(read_image(path).rgb)


def render_image(
    job: SynthJob, clean: np.ndarray, preset: str, overrides: dict[str, Any], overwrite: bool = False
) -> dict[str, Any]:  # fmt: skip
    """Render rain on ``clean`` (from :func:`read_clean`) and write both files (8-bit RGB PNG; existing ones
    only replaced with ``overwrite``); returns its log line."""
    params = draw_params(preset, job.seed, overrides)
    rainy = RainRenderer(clean.shape[0], clean.shape[1], params).frame(clean)
    for path, pixels in ((job.clean, clean), (job.rainy, rainy)):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_rgb8(path, pixels, overwrite)
        except OSError as exc:
            raise DerainError(f"{path}: cannot write output ({exc.strerror or exc})") from None
    return record(job, preset, params)


def read_log(output: Path) -> list[tuple[str, str]]:
    """The lines of an existing OUT/synth.jsonl as (its ``input``, the line's text); checked before any rendering,
    so a line that is not a rendering's JSON object stops the run with one line before any output is written."""
    path = output / LOG_NAME
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DerainError(f"{path}: cannot read the log ({one_line(exc)})") from None
    lines: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict) or not isinstance(entry.get("input"), str):
            raise DerainError(f"{path}: line {number} is not the JSON object of a rendering; fix or remove that line")
        lines.append((entry["input"], line))
    return lines


def write_log(output: Path, lines: list[dict[str, Any]]) -> Path:
    """Add ``lines`` to OUT/synth.jsonl (atomically), replacing older lines about the same outputs."""
    path = output / LOG_NAME
    names = {line["input"] for line in lines}
    kept = [text for name, text in read_log(output) if name not in names]
    output.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, overwrite=True) as tmp:  # the log is ours to update
        tmp.write_text("".join(f"{text}\n" for text in kept + [json.dumps(line) for line in lines]))
    return path
