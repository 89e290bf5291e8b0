"""`derain weights list|download|verify|convert|publish`: the checkpoints named in weights.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from derain_cli.cli.app import app, console, emit
from derain_cli.errors import DerainError, UsageError
from derain_cli.weights.average import average_checkpoints
from derain_cli.weights.cache import cache_status, local_copies
from derain_cli.weights.convert import convert_checkpoint
from derain_cli.weights.download import fetch_checkpoint
from derain_cli.weights.publish import hub_licence, publish
from derain_cli.weights.registry import SCORE_SETS, load_registry
from derain_cli.weights.resolve import architecture_of

weights_app = typer.Typer(no_args_is_help=True, help="List, download, verify, convert and publish checkpoints.")
app.add_typer(weights_app, name="weights")

NameArgument = Annotated[str, typer.Argument(help="Checkpoint name or alias from weights.toml (see `derain weights list`).")]


@weights_app.command("list")
def list_command() -> None:
    """Show the registered checkpoints, the papers' claims, our measured scores, licences, and whether a verified copy is here."""
    registry = load_registry()
    table = Table(title=f"Checkpoints in {registry.path} (scores: PSNR / SSIM on Y, measured here)")
    score_columns = [f"{title} PSNR / SSIM" for title in SCORE_SETS.values()]
    for column in ("name", "architecture", "parameters", "trained on", "paper's claim", *score_columns, "licence", "cached"):
        table.add_column(column, justify="right" if column == "parameters" else "left", no_wrap=column == "name")
    for entry in registry.models.values():
        params = entry.parameter_count()
        table.add_row(
            entry.name + "".join(f"\n(alias {alias})" for alias in entry.aliases),
            entry.architecture,
            f"{params:,}" if params else "-",
            entry.trained_on,
            entry.claim or "-",
            *(str(score) if score else "-" for score in entry.scores().values()),
            entry.licence,
            cache_status(entry),
        )
    console.print(table)
    if registry.segmentation:
        segmentation = Table(title="Segmentation models (downstream tasks)")
        for column in ("name", "Hub repository", "licence", "default"):
            segmentation.add_column(column, overflow="fold")
        for seg in registry.segmentation.values():
            segmentation.add_row(seg.name, seg.hf_repo, seg.licence, "yes" if seg.default else "")
        console.print(segmentation)


@weights_app.command("download")
def download_command(
    name: NameArgument,
    force: Annotated[bool, typer.Option("--force", help="Download again even when a verified copy is cached.")] = False,
) -> None:
    """Fetch a checkpoint (sha256-checked) into the cache; the last line printed is its local path."""
    path = fetch_checkpoint(load_registry().get(name), force=force)
    emit(str(path))


@weights_app.command("verify")
def verify_command(
    name: Annotated[Optional[str], typer.Argument(help="Checkpoint name or alias (default: all).", show_default=False)] = None,
) -> None:
    """Check every local copy (caches and $DERAIN_WEIGHTS_DIR) against the sha256 in weights.toml."""
    registry = load_registry()
    entries = [registry.get(name)] if name else list(registry.models.values())
    table = Table(title="Local copies")
    for column in ("name", "source", "path", "sha256"):
        table.add_column(column)
    bad = 0
    for entry in entries:
        copies = local_copies(entry)
        if not copies:
            table.add_row(entry.name, "-", "-", "not cached" if entry.sources else "no public checkpoint")
        for copy in copies:
            table.add_row(entry.name, copy.origin, str(copy.path), "ok" if copy.ok else f"MISMATCH: {copy.actual}")
            bad += not copy.ok
    console.print(table)
    if bad:
        raise DerainError(
            f"{bad} local cop{'y does' if bad == 1 else 'ies do'} not match weights.toml; "
            "`derain weights download NAME --force` fetches a fresh copy"
        )


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
    architecture, options = architecture_of(model) if model else (None, None)
    sha256 = convert_checkpoint(src, dst, architecture, options, overwrite)
    emit(f"{sha256}  {dst}")


@weights_app.command("average")
def average_command(
    sources: Annotated[list[Path], typer.Argument(help="Checkpoints of one model (e.g. a run's snapshots/step_*.safetensors).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .safetensors file.")],
    weights: Annotated[Optional[str], typer.Option("--weights", help="Comma-separated weight of each checkpoint (default: equal), e.g. 0.3,0.7.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Average checkpoints tensor by tensor (weight averaging, model soups); prints `SHA256  OUTPUT`."""
    try:
        shares = [float(w) for w in weights.split(",")] if weights else None
    except ValueError:
        raise UsageError(f"--weights {weights!r}: comma-separated numbers, one per checkpoint") from None
    emit(f"{average_checkpoints(sources, output, shares, overwrite)}  {output}")


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
