"""One self-contained HTML page for an evaluation: the metrics, per-scene means, and every image to look at.

The page takes the evaluation's JSON (``EvalReport.to_json(details=True)``: ``rainy``, ``models``, ``images``,
``scenes``) plus the image files, so any evaluation that writes that JSON gets a report; every number is
printed from the JSON, and each number cell names its JSON pointer (``data-json``) so a check can find it.
Images are written beside the page in ``<page stem>_files/`` (PNG, lossless; a video strip's frames at most
:data:`STRIP_PIXELS` high): the page needs no network and
no JavaScript framework, only a few lines of inline script for the wipe sliders (without it each wipe shows
half and half).

Video: the JSON of ``derain eval`` on a video set (``derain_cli.video.evaluate.VideoEvalReport.to_json()``:
``{"video": true, "rows": {LABEL: {...}}, "sequences": {NAME: {"first", "last", "rows": {LABEL: {..., "warping_error_x1e3"}}}}}``)
renders its overall rows and, with a :class:`ReportSequence` per sequence name, each sequence's rows (warping
error included) and a strip of consecutive frames for the rainy input, each model and the target (when the set
has ground truth); ``derain_cli.report.evaluation.write_video_report`` is the glue for ``derain eval``.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np

from derain_cli.evaluate import RAINY
from derain_cli.fsutil import atomic_output
from derain_cli.imageio import read_rgb8, write_rgb8
from derain_cli.report.crops import Crop, pick_crops

TARGET = "target"
CROP_ZOOM = 2
STRIP_PIXELS = 192  # strip frames are stored at most this high: twice their 96 px on the page (sharp on dense screens)
# JSON key -> (column title, decimals, best is the larger); other keys: their own name, 4 decimals
COLUMNS = {
    "psnr": ("PSNR (Y)", 2, True),
    "ssim": ("SSIM (Y)", 4, True),
    "rgb_psnr": ("PSNR (RGB)", 2, True),
    "warping_error": ("warping error", 4, False),
    "warping_error_x1e3": ("warping error x1e3", 3, False),
    "seconds_per_image": ("s/image", 3, None),
    "seconds_per_frame": ("s/frame", 3, None),
    "psnr_gain": ("TTA PSNR gain", 2, None),
    "ssim_gain": ("TTA SSIM gain", 4, None),
    "time_ratio": ("TTA time ratio", 2, None),
}
SCENE_KEYS = ("psnr", "ssim")


@dataclass(frozen=True)
class ReportImage:
    """The files of one evaluated pair or video frame: rainy input, clean target and each method's output
    (label -> file); a video frame has no target when the set has no ground truth."""

    name: str
    rainy: Path
    target: Path | None
    outputs: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportSequence:
    """A video sequence of the JSON's ``sequences``: the frames shown as a strip (consecutive, in order)."""

    name: str
    frames: Sequence[ReportImage]


def files_folder(page: Path) -> Path:
    """The folder beside ``page`` its images go in: ``report.html`` -> ``report_files/``."""
    return page.with_name(f"{page.stem}_files")


def pointer(*keys: str | int) -> str:
    """A JSON pointer (RFC 6901) to ``keys``."""
    return "".join("/" + str(k).replace("~", "~0").replace("/", "~1") for k in keys)


def _format(key: str, value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{COLUMNS.get(key, (key, 4, None))[1]}f}"


def _cell(entry: Mapping, key: str, *where: str | int, best: bool = False) -> str:
    if key not in entry:  # e.g. the rainy input's time
        return "<td></td>"
    value = entry[key]
    css = ' class="best"' if best else ""
    return f'<td{css} data-json="{escape(pointer(*where, key))}">{_format(key, value)}</td>'


def _keys(rows: Sequence[Mapping]) -> list[str]:
    """The metric keys of ``rows`` (numbers only): the known ones in :data:`COLUMNS` order, then the others as found."""
    found = [k for row in rows for k, v in row.items() if v is None or isinstance(v, (int, float))]
    return [k for k in COLUMNS if k in found] + list(dict.fromkeys(k for k in found if k not in COLUMNS))


def _best_labels(rows: Mapping[str, Mapping], key: str) -> set[str]:
    larger = COLUMNS.get(key, (key, 4, None))[2]
    values = {label: row.get(key) for label, row in rows.items() if isinstance(row.get(key), (int, float))}
    if larger is None or not values:
        return set()
    best = max(values.values()) if larger else min(values.values())
    return {label for label, value in values.items() if value == best}


def table_rows(entry: Mapping) -> dict[str, tuple[Mapping, tuple[str, ...]]]:
    """Label -> (row, its JSON path in ``entry``): images' ``{"rainy", "models"}`` or video's ``{"rows"}``."""
    if "rows" in entry:
        return {label: (row, ("rows", label)) for label, row in entry["rows"].items()}
    models = {label: (row, ("models", label)) for label, row in entry["models"].items()}
    return {RAINY: (entry["rainy"], ("rainy",)), **models}


def metrics_table(entry: Mapping, *where: str | int, caption: str = "") -> str:
    """A table of ``entry``'s rows (see :func:`table_rows`), ``entry`` being at JSON pointer ``where``."""
    located = table_rows(entry)
    rows = {label: row for label, (row, _) in located.items()}
    keys = _keys(list(rows.values()))
    best = {key: _best_labels(rows, key) for key in keys}
    head = "".join(f"<th>{escape(COLUMNS.get(k, (k,))[0])}</th>" for k in keys)
    body = []
    for label, (row, path) in located.items():
        cells = "".join(_cell(row, k, *where, *path, best=label in best[k]) for k in keys)
        body.append(f"<tr><th>{escape(label)}</th>{cells}</tr>")
    title = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f'<table>{title}<tr><th></th>{head}</tr>{"".join(body)}</table>'


def scenes_table(scenes: Mapping[str, Mapping]) -> str:
    """Per-scene means: one row per scene, PSNR and SSIM of the rainy input and of each model."""
    if not scenes:
        return ""
    labels = list(table_rows(next(iter(scenes.values()))))
    head = "".join(f'<th colspan="{len(SCENE_KEYS)}">{escape(label)}</th>' for label in labels)
    sub = "".join(f"<th>{escape(COLUMNS[k][0])}</th>" for _ in labels for k in SCENE_KEYS)
    body = []
    for scene, entry in scenes.items():
        located = table_rows(entry)
        rows = {label: row for label, (row, _) in located.items()}
        cells = []
        for label, (row, path) in located.items():
            cells += [_cell(row, k, "scenes", scene, *path, best=label in _best_labels(rows, k)) for k in SCENE_KEYS]
        body.append(f'<tr><th>{escape(scene)}</th><td data-json="{escape(pointer("scenes", scene, "n"))}">{entry["n"]}</td>{"".join(cells)}</tr>')
    return (
        f'<h2>Per scene</h2><table><tr><th rowspan="2">scene</th><th rowspan="2">pairs</th>{head}</tr>'
        f'<tr>{sub}</tr>{"".join(body)}</table>'
    )


class _Assets:
    """Copies images into the report's folder and gives their addresses relative to the page."""

    def __init__(self, page: Path) -> None:
        self.page_dir = page.parent
        self.folder = files_folder(page)
        self.folder.mkdir(parents=True, exist_ok=True)

    def src(self, path: Path) -> str:
        return quote(Path(os.path.relpath(path, self.page_dir)).as_posix())

    def image(self, source: Path, name: str) -> Path:
        """``source`` inside the folder: referenced where it is when already there, else written as 8-bit PNG."""
        if source.resolve().is_relative_to(self.folder.resolve()):
            return source
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix.lower() == ".png":
            shutil.copyfile(source, target)
        else:
            self.array(read_rgb8(source), name)
        return target

    def thumbnail(self, source: Path, name: str, height: int = STRIP_PIXELS) -> Path:
        """``source`` at most ``height`` pixels high (area-averaged): a strip of full-HD frames stays light."""
        rgb = read_rgb8(source)
        if rgb.shape[0] <= height:
            return self.image(source, name)
        width = max(1, round(rgb.shape[1] * height / rgb.shape[0]))
        return self.array(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA), name)

    def array(self, rgb: np.ndarray, name: str) -> Path:
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_rgb8(target, rgb)
        return target


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _wipe(top: str, bottom: str, label: str) -> str:
    return (
        f'<figure class="wipe"><div class="frame"><img src="{bottom}" alt="target">'
        f'<img class="top" src="{top}" alt="{escape(label)}"><div class="line"></div></div>'
        f'<input type="range" min="0" max="100" value="50" aria-label="wipe {escape(label)} against the target">'
        f"<figcaption>&#9664; {escape(label)} | target &#9654;</figcaption></figure>"
    )


def _crops_html(crops: Sequence[Crop], images: Mapping[str, np.ndarray], assets: _Assets, prefix: str) -> str:
    rows = []
    for j, crop in enumerate(crops):
        figures = []
        for label, rgb in images.items():
            path = assets.array(crop.of(rgb), f"{prefix}/crop{j}_{_safe(label)}.png")
            figures.append(
                f'<figure><img class="zoom" src="{assets.src(path)}" width="{crop.side * CROP_ZOOM}" '
                f'alt="{escape(label)}"><figcaption>{escape(label)}</figcaption></figure>'
            )
        where = f"{crop.why}: x {crop.left}, y {crop.top}, {crop.side} x {crop.side} px, shown x{CROP_ZOOM}"
        rows.append(f'<div class="crops"><p>{escape(where)}</p>{"".join(figures)}</div>')
    return "".join(rows)


def image_section(index: int, item: ReportImage, entry: Mapping, assets: _Assets) -> str:
    """One pair: its metrics, a wipe per method (and the rainy input) against the target, zoomed crops."""
    prefix = f"{index:04d}_{_safe(item.name)}"
    target = assets.image(item.target, f"{prefix}/target.png")
    shown = {RAINY: assets.image(item.rainy, f"{prefix}/rainy.png")}
    shown.update({label: assets.image(path, f"{prefix}/{_safe(label)}.png") for label, path in item.outputs.items()})
    wipes = "".join(_wipe(assets.src(path), assets.src(target), label) for label, path in shown.items())
    pixels = {label: read_rgb8(path) for label, path in shown.items()}
    clean = read_rgb8(target)
    crops = pick_crops(clean, [pixels[label] for label in item.outputs])
    zoomed = _crops_html(crops, {**pixels, TARGET: clean}, assets, prefix)
    table = metrics_table(entry, "images", index)
    return f'<section id="{escape(prefix)}"><h3>{escape(item.name)}</h3>{table}<div class="wipes">{wipes}</div>{zoomed}</section>'


def sequence_section(index: int, sequence: ReportSequence, entry: Mapping, assets: _Assets) -> str:
    """One video sequence: its metrics (warping error included) and a strip of consecutive frames per row
    (the target's only when every frame has one)."""
    prefix = f"seq{index:04d}_{_safe(sequence.name)}"
    frames = sequence.frames
    strips: dict[str, list[Path]] = {RAINY: [f.rainy for f in frames]}
    for label in frames[0].outputs if frames else ():
        strips[label] = [f.outputs[label] for f in frames]
    targets = [f.target for f in frames]
    if frames and None not in targets:
        strips[TARGET] = targets
    rows = []
    for label, paths in strips.items():
        cells = "".join(
            f'<img src="{assets.src(assets.thumbnail(path, f"{prefix}/{_safe(label)}_{k:03d}.png"))}" '
            f'alt="{escape(label)} frame {escape(frame.name)}" title="{escape(frame.name)}">'
            for k, (path, frame) in enumerate(zip(paths, frames))
        )
        rows.append(f'<div class="strip"><span>{escape(label)}</span>{cells}</div>')
    shown = f"; shown: {escape(frames[0].name)} to {escape(frames[-1].name)}" if frames else ""
    scored = f"<p>frames {escape(entry['first'])} to {escape(entry['last'])} scored{shown}</p>"
    table = metrics_table(entry, "sequences", sequence.name)
    return f'<section id="{escape(prefix)}"><h3>{escape(sequence.name)}</h3>{table}{scored}{"".join(rows)}</section>'


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1600px}
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #ccc;padding:.2em .6em}
td{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:bold;background:#eaf5ea}
caption{text-align:left;font-weight:bold}section{border-top:2px solid #ddd;margin-top:1.5em}
.wipes{display:flex;flex-wrap:wrap;gap:1em}.wipe{margin:0;width:min(30vw,560px)}.frame{position:relative;line-height:0}
.frame img{width:100%;height:auto}.frame .top{position:absolute;left:0;top:0;clip-path:inset(0 50% 0 0)}
.line{position:absolute;top:0;bottom:0;left:50%;width:2px;margin-left:-1px;background:#ffd400;pointer-events:none}
.wipe input{display:block;width:100%}figcaption{font-size:12px;color:#555}
.crops{display:flex;flex-wrap:wrap;gap:.6em;align-items:flex-start}.crops p{flex-basis:100%;margin:.6em 0 0}
.crops figure{margin:0}.zoom,.strip img{image-rendering:pixelated}
.strip{display:flex;gap:2px;align-items:center;overflow-x:auto}.strip span{min-width:10em}.strip img{height:96px}
"""
SCRIPT = """
for (const range of document.querySelectorAll('.wipe input')) {
  const frame = range.previousElementSibling, top = frame.querySelector('.top'), line = frame.querySelector('.line');
  range.addEventListener('input', () => {
    top.style.clipPath = `inset(0 ${100 - range.value}% 0 0)`;
    line.style.left = `${range.value}%`;
  });
}
"""


def write_report(
    result: Mapping,
    images: Sequence[ReportImage],
    page: Path,
    command: str = "",
    sequences: Sequence[ReportSequence] = (),
) -> Path:
    """Write the page for ``result`` (the evaluation's JSON) and its images beside it; returns the page's path.

    ``images`` and ``sequences`` are matched to the JSON's ``images`` / ``sequences`` by name; one without
    a JSON entry is left out (a pair that failed has no scores to show).
    """
    assets = _Assets(page)
    entries = {entry["name"]: (k, entry) for k, entry in enumerate(result.get("images", []))}
    pairs = [image_section(entries[i.name][0], i, entries[i.name][1], assets) for i in images if i.name in entries]
    seq_entries = result.get("sequences", {})
    clips = [sequence_section(k, s, seq_entries[s.name], assets) for k, s in enumerate(sequences) if s.name in seq_entries]
    video = bool(result.get("video"))
    title = f"derain eval: {result['dataset']} ({result['n']} {'frames' if video else 'pairs'})"
    intro = f"<p><code>{escape(command)}</code></p>" if command else ""
    caption = f"{result['layout']}; the warping error's flow on the {result['flow_on']}" if video else ""
    body = f"<h1>{escape(title)}</h1>{intro}<h2>Means</h2>{metrics_table(result, caption=caption)}{scenes_table(result.get('scenes', {}))}"
    if pairs:
        body += (
            "<h2>Images</h2><p>Drag a slider to wipe between a method's output (left) and the clean target (right); "
            f"crops are picked automatically.</p>{''.join(pairs)}"
        )
    if clips:
        body += f"<h2>Sequences</h2><p>Each row: consecutive frames of the sequence (hover over one for its name).</p>{''.join(clips)}"
    text = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}<script>{SCRIPT}</script></body></html>\n"
    )
    with atomic_output(page, overwrite=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return page
