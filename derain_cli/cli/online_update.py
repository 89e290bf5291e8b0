"""`derain online-update` (alias `derain finetune`): adapt a model to real rainy images without ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from derain_cli.cli.app import app, console, error
from derain_cli.cli.options import (
    DeviceOption,
    ModelOption,
    QuietOption,
    TileOption,
    WeightsOption,
)
from derain_cli.cli.progress import job_reporter, progress_bar
from derain_cli.errors import DerainError
from derain_cli.weights.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from derain_cli.image_batch import Failure, Job
    from derain_cli.online import OnlineUpdater


def online_update_command(
    inputs: Annotated[list[str], typer.Argument(help="Folder(s) of real rainy images (or image files, glob patterns).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder: model.safetensors, derained/, metrics.jsonl, state.pt.")],
    model: ModelOption = DEFAULT_MODEL,
    weights: WeightsOption = None,
    synthetic: Annotated[Optional[Path], typer.Option("--synthetic", help="Paired synthetic set (e.g. rain100h/) for the KL rain prior; without it the KL term is 0.")] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Rounds; pseudo targets are refreshed after each.")] = 20,
    steps_per_round: Annotated[Optional[int], typer.Option("--steps-per-round", min=1, help="Adam steps per round (default: enough to see each image about once).")] = None,
    patch: Annotated[int, typer.Option("--patch", min=1, help="Training patch size in pixels.")] = 128,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Patches per step.")] = 4,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate of round 1; x0.2 after 30 %, 50 % and 80 % of the rounds.")] = 1e-4,
    kl_weight: Annotated[float, typer.Option("--kl-weight", min=0.0, help="Weight of the KL rain prior (with --synthetic).")] = 8e-5,
    synth_mix: Annotated[float, typer.Option("--synth-mix", min=0.0, help="Weight of synthetic pairs: new rain (derain synth) rendered on crops of the pseudo targets, so the model keeps learning removal on your scenes (0 = the paper's scheme alone).")] = 0.0,
    synth_preset: Annotated[str, typer.Option("--synth-preset", help="Rain preset of those pairs (drizzle, light, heavy, storm, veil, streaks) or mix.")] = "mix",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the patch sampling.")] = 0,
    device: DeviceOption = "auto",
    tile: TileOption = None,
    previews: Annotated[bool, typer.Option("--previews", help="Write previews/round_NNN.png: rainy | start | current, first 4 images.")] = False,
    precision: Annotated[str, typer.Option("--precision", help="fp32; bf16 (training autocast + channels_last on the CPU, bf16 fast path for the pseudo targets); auto = bf16 on CPUs with native bf16, else fp32.")] = "fp32",
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in OUT from its last completed round (same options).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Start afresh in an OUT that holds a previous run.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Adapt a model to your real rainy images (online update, AAAI 2022): [bold]derain online-update photos/ -o adapted/[/]."""
    from derain_cli.checkpoints import architecture_metadata
    from derain_cli.derainer import build_network
    from derain_cli.image_batch import expand_inputs
    from derain_cli.models import create_model
    from derain_cli.online import (
        OnlineUpdater,
        SyntheticRain,
        UpdateOptions,
        check_output_folder,
        load_real_images,
        output_jobs,
        small_image_notes,
    )
    from derain_cli.weights.resolve import architecture_of

    options = UpdateOptions(
        rounds=rounds, steps_per_round=steps_per_round, patch=patch, batch_size=batch_size, lr=lr, kl_weight=kl_weight,
        synth_weight=synth_mix, synth_preset=synth_preset, seed=seed,
    )  # fmt: skip
    check_output_folder(output, resume, overwrite)
    found, missing = expand_inputs(inputs)
    images, unreadable = load_real_images([item.path for item in found])
    failures = missing + unreadable
    for failure in failures:
        error(f"{failure.source}: {failure.message}")
    if not images:
        raise DerainError(f"{' '.join(inputs)}: no readable images to adapt to")
    for note in small_image_notes(images, options.patch):
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    jobs = output_jobs(images, output)
    rain = SyntheticRain(synthetic, options.patch, options.seed) if synthetic else None
    architecture, arch_options = architecture_of(model)
    network = create_model(architecture, **arch_options) if resume else build_network(model, weights)
    metadata = architecture_metadata(architecture, arch_options)
    updater = OnlineUpdater(network, images, output, options, metadata, rain, device, tile, previews, precision)
    if resume:
        updater.resume()
    failures += _run(updater, jobs, quiet, overwrite=resume or overwrite)
    if not quiet:
        console.print(f"Adapted model: {output / 'model.safetensors'}; outputs in {output / 'derained'}", highlight=False)
    if failures:
        error(f"{len(failures)} of {len(found) + len(missing)} input(s) failed")
        raise typer.Exit(1)


def _run(updater: OnlineUpdater, jobs: list[Job], quiet: bool, overwrite: bool) -> list[Failure]:
    with progress_bar("it", quiet) as progress:
        task = progress.add_task("pseudo targets", total=len(updater.images))

        def advance(phase: str, done: int, total: int) -> None:
            progress.update(task, description=phase, completed=done, total=total)

        def report(record: dict[str, Any]) -> None:
            if not quiet:
                progress.console.print(
                    f"round {record['round']}/{updater.options.rounds}: L1 {record['l1']:.5f}, KL {record['kl']:.4f}, "
                    + (f"synthetic L1 {record['synth_l1']:.5f}, " if updater.options.synth_weight else "")
                    + f"lr {record['lr']:.2g}, targets changed {record['target_change']:.5f}, {record['seconds']:.1f} s",
                    highlight=False,
                )

        updater.run(advance, report)
        advance("writing outputs", 0, len(jobs))
        return updater.write_outputs(jobs, job_reporter(progress, task), overwrite)


app.command("online-update")(online_update_command)
app.command("finetune", help="Same as [bold]derain online-update[/] (the design's name for it).")(online_update_command)
