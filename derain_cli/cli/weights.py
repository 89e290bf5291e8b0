"""`derain weights list|info|download|verify|convert|average|publish`: the checkpoints named in weights.toml.

Results go to stdout (the catalogue, a path, a hash), diagnostics to stderr, as huggingface_hub's CLI does.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.table import Table

from derain_cli.cli.app import app, console, emit, out
from derain_cli.errors import DerainError, UsageError
from derain_cli.weights.registry import SCORE_SETS, VIDEO_DEFAULT_MODEL, load_registry

if TYPE_CHECKING:
    from derain_cli.weights.registry import Registry, WeightsEntry

weights_app = typer.Typer(no_args_is_help=True, help="List, describe, download, verify, convert and publish checkpoints.")
app.add_typer(weights_app, name="weights")

NameArgument = Annotated[str, typer.Argument(help="Checkpoint name or alias from weights.toml (see `derain weights list`).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print every field as JSON on stdout (for scripts).")]

# The list's cells are cut to these widths (the whole entry: `derain weights info NAME`), so it fits 80 columns.
_TRAINED_ON_WIDTH, _LICENCE_WIDTH = 16, 12
# Score column headers: Rain100H, and real (the GT-RAIN dev pairs).
_SCORE_HEADERS = [title.split(" (")[-1].rstrip(")") for title in SCORE_SETS.values()]


def _short(text: str, width: int) -> str:
    """The head of ``text`` (up to its first parenthesis or semicolon), cut to ``width`` with an ellipsis."""
    for mark in (" (", ";"):
        text = text.split(mark)[0].strip() or text
    text = text.strip() or "-"
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"


def _psnr(score: dict[str, Any] | None) -> str:
    return f"{score['psnr']:.2f}" if score and score["psnr"] is not None else "-"


def _section(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column in _SCORE_HEADERS else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    out.print(table, highlight=False)
    out.print()


@weights_app.command("list")
def list_command(as_json: JsonOption = False) -> None:
    """The model catalogue: what each checkpoint is for, what it was trained on, its scores, licence, and whether it is here."""
    from derain_cli.weights.catalogue import DERAINING, LOSS_NETWORK, SEGMENTATION, catalogue

    registry = load_registry()
    records = catalogue(registry)
    if as_json:
        emit(json.dumps({"weights_toml": str(registry.path), "models": records}, indent=2))
        return
    of = {kind: [r for r in records if r["kind"] == kind] for kind in (DERAINING, SEGMENTATION, LOSS_NETWORK)}
    _section(
        "Deraining models (derain image|video|eval --model NAME)",
        ["name", "trained on", *_SCORE_HEADERS, "licence", "here"],
        [[r["name"] + (" *" if r["default"] else " v" if r["video_default"] else ""), _short(r["trained_on"], _TRAINED_ON_WIDTH),
          *(_psnr(s) for s in r["scores"].values()), _short(r["licence"], _LICENCE_WIDTH), r["cached"]]
         for r in of[DERAINING]],
    )  # fmt: skip
    _section(
        "Segmentation models (--seg-model NAME)",
        ["name", "network", "licence", "here"],
        [[r["name"] + (" *" if r["default"] else ""), r["architecture"] or "Hugging Face Hub",
          _short(r["licence"], _LICENCE_WIDTH), "-" if r["hf_repo"] else r["cached"]] for r in of[SEGMENTATION]],
    )  # fmt: skip
    _section(
        "Loss networks (derain train --loss-weights NAME=PATH)",
        ["name", "trained on", "licence", "here"],
        [[r["name"], _short(r["trained_on"], _TRAINED_ON_WIDTH), _short(r["licence"], _LICENCE_WIDTH), r["cached"]]
         for r in of[LOSS_NETWORK]],
    )  # fmt: skip
    notes = (
        f"* the default, v in the video default (derain video). Scores: PSNR on Y (dB) measured here on {' and on '.join(SCORE_SETS.values())}; "
        "here: a verified copy is on this machine. Everything else (sources, SSIM, claims, licences, commands): "
        "derain weights info NAME; for scripts: --json."
    )
    out.print(textwrap.fill(notes, min(out.width, 100)), highlight=False)


def _wrapped(label: str, value: str, width: int) -> str:
    """``label: value``, wrapped under the value's column (names, paths and URLs are never split)."""
    return textwrap.fill(value or "-", width, initial_indent=f"{label + ':':<20}", subsequent_indent=" " * 20,
                         break_long_words=False, break_on_hyphens=False)  # fmt: skip


@weights_app.command("info")
def info_command(name: NameArgument, as_json: JsonOption = False) -> None:
    """Everything about one checkpoint or segmentation model: description, sources, scores and their commands, claim,
    licence, attribution, architecture options, and where its copies are."""
    from derain_cli.weights.catalogue import record

    fields = record(load_registry(), name)
    if as_json:
        emit(json.dumps(fields, indent=2))
        return
    width = max(40, min(shutil.get_terminal_size().columns, 100))
    marks = " (the default)" if fields["default"] else f" (in the video default, {VIDEO_DEFAULT_MODEL})" if fields.get("video_default") else ""
    lines = [("name", fields["name"] + marks), ("for", fields["kind"])]
    if fields.get("aliases"):
        lines.append(("aliases", ", ".join(fields["aliases"])))
    network = fields["architecture"] or f"{fields['hf_repo']}@{fields['revision']} (Hugging Face Hub)"
    options = f" {json.dumps(fields['options'])}" if fields["options"] else ""
    lines += [("network", network + options), ("description", fields["description"])]
    if "trained_on" in fields:
        lines.append(("trained on", fields["trained_on"]))
    if fields.get("route"):
        route = fields["route"]
        lines.append(("heavy-rain route", f"to {route['model']} from rain strength {route['low']:g}, wholly from {route['high']:g} "
                                          "(grey levels of Y the network removes, on average; derain_cli/rain_route.py)"))  # fmt: skip
    for key, score in fields.get("scores", {}).items():
        if score:
            measured = "not measured yet" if score["psnr"] is None else f"PSNR {score['psnr']:.2f} / SSIM {score['ssim']:.4f} (Y)"
            lines.append((SCORE_SETS[key], f"{measured}; command: {score['command'] or '-'}"))
    if fields.get("classes"):
        lines.append(("classes", ", ".join(fields["classes"])))
    lines += [("paper's claim", fields["claim"]), ("licence", fields["licence"])]
    if "attribution" in fields:
        lines.append(("attribution", fields["attribution"]))
    lines += [("source", f"{_source_text(s)} (sha256 {s['sha256']})") for s in fields["sources"]]
    if fields["local_filenames"]:
        lines.append(("by hand", f"a file in $DERAIN_WEIGHTS_DIR named {', '.join(fields['local_filenames'])}"))
    lines.append(("here", fields["cached"]))
    for label, value in lines:
        emit(_wrapped(label, value, width))


def _source_text(source: dict[str, Any]) -> str:
    if source["type"] == "hub":
        return f"Hugging Face Hub {source['hf_repo']}/{source['hf_file']}@{source['revision']}"
    return f"bundled {source['bundled']}" if source["type"] == "bundled" else source["url"]


@weights_app.command("download")
def download_command(
    name: NameArgument,
    force: Annotated[bool, typer.Option("--force", help="Download again even when a verified copy is cached.")] = False,
) -> None:
    """Fetch a checkpoint (sha256-checked) into the cache; the last line printed is its local path."""
    from derain_cli.weights.download import fetch_checkpoint

    path = fetch_checkpoint(load_registry().get(name), force=force)
    emit(str(path))


@weights_app.command("verify")
def verify_command(
    name: Annotated[Optional[str], typer.Argument(help="Checkpoint name or alias (default: all).", show_default=False)] = None,
) -> None:
    """Check every local copy (caches and $DERAIN_WEIGHTS_DIR) against the sha256 in weights.toml: one line per copy."""
    from derain_cli.weights.cache import local_copies

    registry = load_registry()
    bad = 0
    for entry in [registry.get(name)] if name else _checkpoints(registry):
        copies = local_copies(entry)
        if not copies:
            emit(f"{'-':<9} {entry.name}: {'not here' if entry.sources else 'no public checkpoint'}")
        for copy in copies:
            status = "ok" if copy.ok else "MISMATCH"
            emit(f"{status:<9} {entry.name}: {copy.path} ({copy.origin})")
            if not copy.ok:
                console.print(f"  {copy.problem}", highlight=False, markup=False)
            bad += not copy.ok
    if bad:
        raise DerainError(
            f"{bad} local cop{'y does' if bad == 1 else 'ies do'} not match weights.toml; "
            "`derain weights download NAME --force` fetches a fresh copy"
        )


def _checkpoints(registry: Registry) -> list[WeightsEntry]:
    """Every checkpoint weights.toml names: models and loss networks, then the built-in segmentation networks'."""
    segmentation = [s.checkpoint for s in registry.segmentation.values() if s.checkpoint is not None]
    return list(registry.models.values()) + segmentation


@weights_app.command("convert")
def convert_command(
    src: Annotated[Path, typer.Argument(help="Checkpoint to convert (.pth state dict or .safetensors).", show_default=False)],
    dst: Annotated[Path, typer.Argument(help="Output .safetensors file.", show_default=False)],
    model: Annotated[
        Optional[str],
        typer.Option("--model", "-m", help="Architecture or weights.toml name (default: detected from the tensors)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace DST if it exists.")] = False,
) -> None:
    """Convert a checkpoint to a deterministic .safetensors file; prints `SHA256  DST` (as sha256sum does)."""
    from derain_cli.weights.convert import convert_checkpoint
    from derain_cli.weights.resolve import architecture_of

    architecture, options = architecture_of(model) if model else (None, None)
    sha256 = convert_checkpoint(src, dst, architecture, options, overwrite)
    emit(f"{sha256}  {dst}")


@weights_app.command("average")
def average_command(
    sources: Annotated[list[Path], typer.Argument(help="Checkpoints of one model (e.g. a run's snapshots/step_*.safetensors).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .safetensors file.")],
    weights: Annotated[Optional[str], typer.Option("--weights", help="Comma-separated weight of each checkpoint (default: equal), e.g. 0.3,0.7.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT if it exists.")] = False,
    layers: Annotated[
        Optional[str],
        typer.Option("--layers", help="Comma-separated tensor-name prefixes: average only those (e.g. res_conv3,res_conv4); the rest come from the first checkpoint."),
    ] = None,
) -> None:
    """Average checkpoints tensor by tensor (weight averaging, model soups); prints `SHA256  OUTPUT`."""
    from derain_cli.weights.average import average_checkpoints

    try:
        shares = [float(w) for w in weights.split(",")] if weights else None
    except ValueError:
        raise UsageError(f"--weights {weights!r}: comma-separated numbers, one per checkpoint") from None
    prefixes = [prefix.strip() for prefix in layers.split(",") if prefix.strip()] if layers else None
    emit(f"{average_checkpoints(sources, output, shares, overwrite, prefixes)}  {output}")


@weights_app.command("publish")
def publish_command(
    name: NameArgument,
    repo: Annotated[str, typer.Option("--repo", help="Hub repository ORG/NAME (created if needed).", show_default=False)],
    file: Annotated[
        Optional[Path],
        typer.Option("--file", help="Checkpoint to publish (default: fetched through weights.toml).", show_default=False),
    ] = None,
    token: Annotated[
        Optional[str], typer.Option("--token", help="Hub token with write access (default: HF_TOKEN or `hf auth login`).")
    ] = None,
) -> None:
    """Upload a checkpoint's safetensors conversion and a model card to the Hugging Face Hub."""
    from derain_cli.weights.publish import hub_licence, publish

    entry = load_registry().get(name)
    if hub_licence(entry.licence) == "unknown":
        warning = f"warning: {entry.name}: licence {entry.licence!r}; publish only with the authors' permission"
        console.print(warning, highlight=False)
    url = publish(entry, repo, file, token)
    hub = entry.hub_source
    if hub is not None and hub.hf_repo != repo:
        note = f"note: weights.toml fetches {entry.name} from {hub.hf_repo}; point it at {repo} to use this upload"
        console.print(note, highlight=False)
    emit(url)
