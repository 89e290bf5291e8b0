"""`derain train`: train a deraining network on paired data (SAPNet's losses, task-driven stage, resume, torchrun)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from derain_cli.cli.app import app, console
from derain_cli.cli.options import DeviceOption, QuietOption
from derain_cli.cli.progress import progress_bar
from derain_cli.errors import UsageError

if TYPE_CHECKING:
    from derain_cli.train import Trainer


def _milestones(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--milestones: expected epochs like 30,50,80, got {text!r}") from None


def _loss_weights(items: list[str] | None) -> dict[str, str]:
    items = items or []
    pairs = [item.partition("=") for item in items]
    bad = next((item for item, (_, sep, path) in zip(items, pairs) if not sep or not path), None)
    if bad is not None:
        raise UsageError(f"--loss-weights {bad!r}: expected NAME=PATH, e.g. vgg16-imagenet=vgg16.safetensors")
    return {name: path for name, _, path in pairs}


def _model_options(items: list[str] | None) -> dict[str, int | bool]:
    """``KEY=N`` (or ``KEY=true|false``) items -> architecture options, checked against the builder in TrainConfig."""
    options: dict[str, int | bool] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        value: int | bool | None = {"true": True, "false": False}.get(text.lower())
        if value is None and text.lstrip("-").isdigit():
            value = int(text)
        if not sep or not key or value is None:
            raise UsageError(f"--model-option {item!r}: expected KEY=N (a whole number) or KEY=true|false, e.g. channels=48")
        options[key] = value
    return options


def _given(ctx: typer.Context, name: str) -> bool:
    """True when option ``name`` was given on the command line or through the environment."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _losses(text: str) -> dict[str, float]:
    from derain_cli.losses.composite import parse_losses  # here: the loss modules load torch

    return parse_losses(text)


# CLI value -> TrainConfig value, for options whose form differs.
_CONVERT = {"losses": _losses, "milestones": _milestones, "loss_weights": _loss_weights, "model_options": _model_options,
            "weights": lambda p: str(p) if p else None}  # fmt: skip


@app.command("train")
def train_command(
    ctx: typer.Context,
    dataset: Annotated[Optional[str], typer.Option("--dataset", "-D", help="Paired folder, a name from datasets.toml (rain100h-train, ...), synth:CLEAN_DIR[,preset=P] (new rain every step); comma-separated to mix, each with weight=W.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Architecture: sapnet, prenet, hcn, litenet, ...")] = "sapnet",
    model_options: Annotated[Optional[list[str]], typer.Option("--model-option", metavar="KEY=N", help="An architecture option (repeat for several), e.g. --model-option channels=48 --model-option blocks=6 for a wider litenet; recorded in every checkpoint, so eval and image build the same graph.")] = None,
    losses: Annotated[str, typer.Option("--losses", help="Loss terms NAME[:WEIGHT], comma-separated: ssim, pcl, lpips, ubs (weights default to the paper's 1, 0.1, 0.1, 0.1), l1, grad (image gradients: texture), tone (16-px pooled colour: no tone shift) (default 1 each).")] = "ssim,pcl,lpips,ubs",
    task_driven: Annotated[bool, typer.Option("--task-driven", help="Add the semantic losses of a frozen segmentation model (two-stage joint training).")] = False,
    seg_model: Annotated[Optional[str], typer.Option("--seg-model", help="Segmentation model for --task-driven: a weights.toml name (e.g. espnet-camvid), Hugging Face id or save_pretrained folder.")] = None,
    task_start: Annotated[int, typer.Option("--task-start", min=0, help="Epochs of stage 1 (deraining losses alone) before the semantic losses join.")] = 0,
    task_ce_weight: Annotated[float, typer.Option("--task-ce-weight", help="Weight of the segmentation cross-entropy.")] = 1.0,
    task_feature_weight: Annotated[float, typer.Option("--task-feature-weight", help="Weight of the encoder feature matching.")] = 1.0,
    task_labels: Annotated[Optional[str], typer.Option("--task-labels", help="Folder of label maps <pair name>.png (class ids, 255 = ignore) for the cross-entropy, instead of the prediction on the clean image.")] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs (one patch per image each, times --patches-per-image).")] = 100,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Stop after this many steps in all (counting steps before --resume).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Patches per step, split over the processes.")] = 12,
    patch: Annotated[int, typer.Option("--patch", help="Patch size in pixels.")] = 100,
    patches_per_image: Annotated[int, typer.Option("--patches-per-image", help="Random patches drawn from each pair per epoch.")] = 1,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate.")] = 1e-3,
    milestones: Annotated[str, typer.Option("--milestones", help="Epochs at which the learning rate is multiplied by 0.2.")] = "30,50,80",
    weights: Annotated[Optional[Path], typer.Option("--weights", "-w", help="Start from this checkpoint (.pth or .safetensors) instead of random weights.")] = None,
    val: Annotated[Optional[str], typer.Option("--val", help="Paired folder or data-set name to measure PSNR/SSIM on.")] = None,
    val_every: Annotated[Optional[int], typer.Option("--val-every", help="Validate every N steps (default: at the end of each epoch).")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option("--checkpoint-every", help="Write checkpoints/last.pt every N steps (default: each epoch and at the end).")] = None,
    snapshots: Annotated[bool, typer.Option("--snapshots", help="Also keep each model written as snapshots/step_NNNNNN.safetensors (for derain weights average).")] = False,
    log_every: Annotated[int, typer.Option("--log-every", help="One metrics.jsonl line every N steps (their losses averaged), for long runs whose folder is kept.")] = 1,
    compact_checkpoints: Annotated[bool, typer.Option("--compact-checkpoints", help="Save Adam's moments in bf16: last.pt about half as large; a resumed run then differs from an uninterrupted one by their rounding.")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Run folder (default: runs/<model>-<date>-<time>).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in -o from its last checkpoint.")] = False,
    device: DeviceOption = "auto",
    precision: Annotated[str, typer.Option("--precision", help="fp32; bf16 (autocast, channels_last on the CPU; fp32 weights); fp16 (CUDA); auto = bf16 on CPUs with native bf16, else fp32.")] = "fp32",
    workers: Annotated[int, typer.Option("--workers", help="Data-loading processes.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of initial weights, data order, crops and flips.")] = 0,
    teacher: Annotated[Optional[str], typer.Option("--teacher", help="Distil: learn a zoo model's outputs (e.g. sapnet-realrain) instead of ground truth; every --dataset item then gives inputs only (a plain folder of real photos too; synth: renders=N fixed versions), the teacher runs once per input (cached).")] = None,
    loss_weights: Annotated[Optional[list[str]], typer.Option("--loss-weights", help="NAME=PATH: use this file for a loss network (vgg16-imagenet, lpips-vgg) instead of the registry's.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Train a deraining network: [bold]derain train --dataset rain100h-train -o runs/sapnet[/]."""
    from derain_cli.train import TrainConfig, Trainer
    from derain_cli.train.run import RunFolder

    values: dict[str, Any] = {name: _CONVERT.get(name, lambda v: v)(value) for name, value in ctx.params.items()
                              if name not in ("output", "resume", "quiet")}  # fmt: skip
    if resume:
        if output is None:
            raise UsageError("--resume needs -o RUN, the run folder to continue")
        given = {name: value for name, value in values.items() if _given(ctx, name)}
        config = RunFolder(output).saved_config().resumed_with(given)
    else:
        if dataset is None:
            raise UsageError("--dataset is required: a paired folder or a name from datasets.toml")
        config = TrainConfig(**values)
        output = output or Path("runs") / f"{model}-{datetime.now():%Y%m%d-%H%M%S}"
    trainer = Trainer(config, output, resume=resume)
    _run(trainer, output, quiet or not trainer.processes.is_main)


def _run(trainer: Trainer, output: Path, quiet: bool) -> None:
    plan = trainer.plan
    if plan.start_step >= plan.total_steps:
        trainer.run()
        if not quiet:
            console.print(f"Nothing to do: {output} is already at step {plan.start_step} of {plan.total_steps}")
        return
    start = time.perf_counter()
    with progress_bar("step", quiet) as progress:
        task = progress.add_task("Training", total=plan.total_steps - plan.start_step)

        def on_step(record: dict[str, Any]) -> None:
            shown = f"step {record['step']}/{plan.total_steps} epoch {record['epoch']} loss {record['loss']:.4f}"
            if "val_psnr" in record:
                shown += f" val {record['val_psnr']:.2f} dB"
            progress.update(task, advance=1, description=shown)

        trainer.run(on_step)
    if not quiet:
        steps = plan.total_steps - plan.start_step
        seconds = time.perf_counter() - start
        console.print(
            f"Trained steps {plan.start_step + 1}-{plan.total_steps} in {seconds:.1f} s ({steps / seconds:.2f} steps/s); "
            f"model: {trainer.run_folder.model}",
            highlight=False,
        )
