"""Evaluating deraining methods on a paired set: per-image metrics, means, timings, TTA.

A *method* is any function from an H x W x 3 uint8 rainy image to a uint8 derained one, so
checkpoints, test-time augmentation and classical filters are measured alike. Each pair is read
once and scored for the rainy input and every method; a pair that fails (unreadable, sizes differ,
a method error) is reported and left out of every row, so all rows average the same images.

Extra per-image metrics (e.g. the segmentation mIoU of issue 7) plug in as :data:`ExtraMetric`
callables; their values are averaged per row next to PSNR and SSIM.

The same engine gives the *do-no-harm* measure (issue 25): on a set of rain-free photos
(:func:`derain_cli.pairs.rain_free_set`) each image is its own reference, so a method's row says how
much it changes a picture that has no rain to remove (the input row is then identical: PSNR null).
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from derain_cli.derainer import Derainer
from derain_cli.errors import DerainError, UsageError, one_line
from derain_cli.fsutil import check_writable
from derain_cli.imageio import read_rgb8, write_rgb8
from derain_cli.metrics import Scores, score
from derain_cli.pairs import RAIN_FREE_LAYOUT, Pair, PairedSet
from derain_cli.weights.registry import DEFAULT_MODEL

Method = Callable[[np.ndarray], np.ndarray]
"""uint8 H x W x 3 rainy RGB -> uint8 H x W x 3 derained RGB."""

ExtraMetric = Callable[[Pair, np.ndarray, np.ndarray], Mapping[str, float]]
"""(pair, image, clean) -> named values for one image; called for the rainy input and each method's output."""

TTA_SUFFIX = "+tta"
RAINY = "rainy input"


@dataclass
class Row:
    """One line of the results table: per-image metrics of the rainy input or of one method."""

    label: str
    scores: list[Scores] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # per image, empty for the rainy input
    extras: dict[str, list[float]] = field(default_factory=dict)

    def mean(self) -> Scores:
        """Metric means over the images (PSNR averaged per image, as the papers do); NaN without images."""
        if not self.scores:
            return Scores(math.nan, math.nan, math.nan)
        return Scores(*(float(np.mean([getattr(s, k) for s in self.scores])) for k in ("psnr", "ssim", "rgb_psnr")))

    def seconds_per_image(self) -> float:
        return float(np.mean(self.seconds)) if self.seconds else 0.0

    def extra_means(self) -> dict[str, float]:
        return {name: float(np.mean(values)) for name, values in self.extras.items()}

    def to_json(self) -> dict[str, float | None]:
        mean = self.mean()
        entry = {"psnr": json_number(mean.psnr, 4), "ssim": json_number(mean.ssim, 6), "rgb_psnr": json_number(mean.rgb_psnr, 4)}
        entry.update({name: json_number(value, 6) for name, value in self.extra_means().items()})
        if self.seconds:
            entry["seconds_per_image"] = json_number(self.seconds_per_image(), 4)
        return entry


@dataclass(frozen=True)
class TTAGain:
    """What test-time augmentation buys for one model, measured on the same images."""

    label: str
    psnr: float  # dB gained
    ssim: float
    time_ratio: float  # seconds per image with TTA / without


@dataclass
class EvalReport:
    """The rows of one evaluation, the files left without a partner, and the pairs that failed."""

    dataset: str
    layout: str
    rainy: Row
    models: dict[str, Row]
    problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)  # the pairs measured, in the order of every row's scores

    @property
    def n(self) -> int:
        return len(self.rainy.scores)

    @property
    def measure(self) -> str:
        """``do-no-harm`` (rain-free photos, outputs against their own inputs) or ``paired`` (against targets)."""
        return "do-no-harm" if self.layout == RAIN_FREE_LAYOUT else "paired"

    def tta_gains(self) -> list[TTAGain]:
        """Gain and cost of each ``NAME+tta`` row against its ``NAME`` row."""
        gains = []
        for label, row in self.models.items():
            base = self.models.get(label.removesuffix(TTA_SUFFIX))
            if label.endswith(TTA_SUFFIX) and base is not None and self.n:
                with_tta, without = row.mean(), base.mean()
                ratio = row.seconds_per_image() / base.seconds_per_image() if base.seconds_per_image() else math.nan
                gains.append(TTAGain(label, with_tta.psnr - without.psnr, with_tta.ssim - without.ssim, ratio))
        return gains

    def scenes(self) -> dict[str, list[int]]:
        """Scene -> indices of its pairs, for sets named SCENE_K (GT-RAIN: ``Deadwood_0-0_003``); empty otherwise."""
        groups: dict[str, list[int]] = {}
        for index, pair in enumerate(self.pairs):
            match = _SCENE.fullmatch(pair.name)
            if match is None:
                return {}
            groups.setdefault(match.group(1), []).append(index)
        return groups if len(groups) < len(self.pairs) else {}

    def to_json(self, details: bool = False) -> dict:
        """``{"dataset", "measure", "n", "rainy": {...}, "models": {NAME: {...}}}``; non-finite numbers become null.

        ``details`` adds ``images`` (each pair's scores, in order) and ``scenes`` (means per scene, see :meth:`scenes`).
        """
        models = {label: row.to_json() for label, row in self.models.items()}
        for gain in self.tta_gains():
            models[gain.label].update(
                psnr_gain=json_number(gain.psnr, 4), ssim_gain=json_number(gain.ssim, 6), time_ratio=json_number(gain.time_ratio, 2)
            )
        data = {"dataset": self.dataset, "measure": self.measure, "n": self.n, "rainy": self.rainy.to_json(), "models": models}
        if details:
            data["images"] = [{"name": pair.name, **self._rows_json([k])} for k, pair in enumerate(self.pairs)]
            data["scenes"] = {scene: {"n": len(ks), **self._rows_json(ks)} for scene, ks in self.scenes().items()}
        return data

    def _rows_json(self, indices: Sequence[int]) -> dict:
        """``{"rainy": {...}, "models": {NAME: {...}}}`` over the pairs at ``indices``."""
        models = {label: _subset(row, indices).to_json() for label, row in self.models.items()}
        return {"rainy": _subset(self.rainy, indices).to_json(), "models": models}


_SCENE = re.compile(r"(.+)_\d+")


def _subset(row: Row, indices: Sequence[int]) -> Row:
    """``row`` restricted to the pairs at ``indices``."""
    return Row(
        row.label,
        [row.scores[k] for k in indices],
        [row.seconds[k] for k in indices] if row.seconds else [],
        {name: [values[k] for k in indices] for name, values in row.extras.items()},
    )


def json_number(value: float, digits: int) -> float | None:
    """Rounded for JSON; None (null) for inf/nan, which JSON cannot carry (identical images give inf dB)."""
    return round(value, digits) if math.isfinite(value) else None


# Self-ensemble views as (quarter turns, horizontal flip). "flips" keeps rain streaks' orientation
# (identity, mirror, 180 degrees, vertical mirror); "dihedral" adds the four 90-degree views, which
# turn near-vertical streaks horizontal, unlike anything the networks were trained on.
TTA_MODES: dict[str, tuple[tuple[int, bool], ...]] = {
    "flips": ((0, False), (0, True), (2, False), (2, True)),
    "dihedral": tuple((turns, flip) for turns in range(4) for flip in (False, True)),
}


def tta_views(mode: str) -> tuple[tuple[int, bool], ...]:
    """The views of TTA mode ``mode``; UsageError for an unknown mode."""
    try:
        return TTA_MODES[mode]
    except KeyError:
        raise UsageError(f"unknown TTA mode {mode!r}; use {' or '.join(TTA_MODES)}") from None


def self_ensemble(derain: Callable[[Tensor], Tensor], x: Tensor, mode: str = "flips") -> Tensor:
    """Mean of ``derain`` over the views of ``x`` (N x C x H x W) in :data:`TTA_MODES`, each mapped back."""
    views = tta_views(mode)
    total = torch.zeros_like(x, dtype=torch.float32)
    for turns, flip in views:
        view = torch.rot90(x, turns, (2, 3))
        view = view.flip(3) if flip else view
        out = derain(view)
        out = out.flip(3) if flip else out
        total += torch.rot90(out, -turns, (2, 3)).to(total.device, torch.float32)
    return total / len(views)


def _to_uint8(x: Tensor) -> np.ndarray:
    return x[0].clamp(0, 1).mul(255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()


def derainer_methods(derainer: Derainer, label: str, tta: str | None = None) -> dict[str, Method]:
    """``{label: plain}``, plus ``{label+tta: self-ensemble}`` for a TTA mode; outputs rounded to uint8."""
    methods: dict[str, Method] = {label: derainer}
    if tta is not None:
        tta_views(tta)

        def ensemble(rgb: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div_(255.0)
            return _to_uint8(self_ensemble(derainer.derain_tensor, x, tta))

        methods[label + TTA_SUFFIX] = ensemble
    return methods


def model_labels(models: Sequence[str], weights: Sequence[Path]) -> list[tuple[str, str, Path | None]]:
    """(label, model, weights) for each model; ``weights`` is empty, one path for one model, or one per model."""
    models = list(models) or [DEFAULT_MODEL]
    if weights and len(weights) != len(models):
        raise UsageError(
            f"--weights given {len(weights)} time(s) for {len(models)} model(s): give it once per --model, in order"
        )
    paths: list[Path | None] = list(weights) if weights else [None] * len(models)
    labels = [m if models.count(m) == 1 else f"{m}:{Path(p).name if p else 'default'}" for m, p in zip(models, paths)]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise UsageError(f"model {duplicates[0]} is given twice")
    return list(zip(labels, models, paths))


def load_methods(
    models: Sequence[str],
    weights: Sequence[Path] = (),
    device: str = "auto",
    tta: str | None = None,
    precision: str = "auto",
) -> dict[str, Method]:
    """Load every model once (errors surface before any image is processed) as methods.

    ``tta``: a TTA mode; ``precision``: as for ``Derainer``.
    """
    if tta is not None:
        tta_views(tta)  # a bad mode is refused before any model is loaded
    methods: dict[str, Method] = {}
    for label, model, path in model_labels(models, weights):
        methods.update(derainer_methods(Derainer(model=model, weights=path, device=device, precision=precision), label, tta))
    return methods


def safe_name(label: str) -> str:
    return re.sub(r"[^\w.+-]", "_", label)


def output_path(folder: Path, label: str, pair: Pair) -> Path:
    """Where ``save_outputs`` puts ``label``'s output for ``pair``: ``folder/<label>/<rainy stem>.png``."""
    return folder / safe_name(label) / f"{pair.rainy.stem}.png"


class OutputSaver:
    """Writes ``DIR/<label>/<name>.png`` (lossless), never onto an input file (earlier outputs are replaced).

    The folder is checked writable when the saver is made, before any inference.
    """

    def __init__(self, folder: Path, inputs: Iterable[Path]) -> None:
        check_writable(folder)
        self.folder = folder
        self.inputs = {p.resolve() for p in inputs}

    def save(self, label: str, name: str, image: np.ndarray) -> None:
        """``name``: the output's path below the label's folder, without suffix (e.g. ``SEQ/00041``)."""
        target = self.folder / safe_name(label) / f"{name}.png"
        if target.resolve() in self.inputs:
            raise DerainError(f"{target}: is an input file; choose another --save-outputs folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        write_rgb8(target, image)


def _measure(
    pair: Pair, methods: Mapping[str, Method], extras: Sequence[ExtraMetric], saver: OutputSaver | None
) -> dict[str, tuple[Scores, float | None, dict[str, float]]]:
    """Score one pair for the rainy input and every method: label -> (scores, seconds, extra values)."""
    rainy = read_rgb8(pair.rainy)  # 16-bit rounded, as the metrics expect
    clean = rainy if pair.clean == pair.rainy else read_rgb8(pair.clean)
    if rainy.shape != clean.shape:
        raise DerainError(
            f"size {rainy.shape[1]}x{rainy.shape[0]} differs from {pair.clean} ({clean.shape[1]}x{clean.shape[0]})"
        )

    def measure(image: np.ndarray) -> tuple[Scores, dict[str, float]]:
        values: dict[str, float] = {}
        for extra in extras:
            values.update(extra(pair, image, clean))
        return score(image, clean), values

    scores, values = measure(rainy)
    results = {RAINY: (scores, None, values)}
    for label, method in methods.items():
        start = time.perf_counter()
        output = method(rainy)
        seconds = time.perf_counter() - start
        if saver:
            saver.save(label, pair.rainy.stem, output)
        scores, values = measure(output)
        results[label] = (scores, seconds, values)
    return results


def _record(row: Row, scores: Scores, seconds: float | None, values: Mapping[str, float]) -> None:
    row.scores.append(scores)
    if seconds is not None:
        row.seconds.append(seconds)
    for name, value in values.items():
        row.extras.setdefault(name, []).append(value)


def evaluate(
    paired: PairedSet,
    methods: Mapping[str, Method],
    limit: int | None = None,
    save_outputs: str | os.PathLike[str] | None = None,
    extras: Sequence[ExtraMetric] = (),
    on_pair: Callable[[Pair, str | None], None] | None = None,
    every: int = 1,
) -> EvalReport:
    """Measure the rainy input and every method on every ``every``-th pair (natural order), the first ``limit`` of them.

    ``on_pair(pair, failure)`` is called after each pair (``failure`` is a one-line reason or None).
    """
    pairs = paired.limited(limit, every)
    saver = None
    if save_outputs is not None:
        saver = OutputSaver(Path(save_outputs), [p for pair in pairs for p in (pair.rainy, pair.clean)])
    report = EvalReport(
        Path(paired.root).resolve().name, paired.layout, Row(RAINY), {label: Row(label) for label in methods},
        problems=list(paired.problems),
    )
    rows = {RAINY: report.rainy, **report.models}
    for pair in pairs:
        failure = None
        try:
            for label, (scores, seconds, values) in _measure(pair, methods, extras, saver).items():
                _record(rows[label], scores, seconds, values)
            report.pairs.append(pair)
        except (DerainError, OSError) as exc:
            message = one_line(exc)
            failure = message if message.startswith((str(pair.rainy), str(pair.clean))) else f"{pair.rainy}: {message}"
            report.failures.append(failure)
        if on_pair:
            on_pair(pair, failure)
    return report
