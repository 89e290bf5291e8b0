"""The run folder: config.json, metrics.jsonl, model.safetensors and checkpoints/last.pt."""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from derain_cli import __version__
from derain_cli.checkpoints import architecture_metadata, save_safetensors
from derain_cli.errors import DerainError
from derain_cli.fsutil import atomic_output
from derain_cli.train.config import TrainConfig

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def git_commit(folder: Path = PACKAGE_ROOT) -> str | None:
    """The commit of the derain-cli checkout this code runs from (``+dirty`` with local changes), or None."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                               capture_output=True, text=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def versions() -> dict[str, str | None]:
    """Versions of the software that shapes a run's numbers."""
    found: dict[str, str | None] = {"derain-cli": __version__, "python": platform.python_version(), "torch": torch.__version__}
    for package in ("numpy", "safetensors", "transformers"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    found["cuda"] = torch.version.cuda
    return found


class RunFolder:
    """Paths and writers of one run's folder (only the main process writes)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.config = self.root / "config.json"
        self.metrics = self.root / "metrics.jsonl"
        self.model = self.root / "model.safetensors"
        self.checkpoint = self.root / "checkpoints" / "last.pt"

    def check_new(self) -> None:
        """Refuse to start a new run over an existing one."""
        if self.checkpoint.exists() or self.config.exists():
            raise DerainError(f"{self.root}: already holds a training run; pass --resume to continue it or choose another -o")

    def saved_config(self) -> TrainConfig:
        """The configuration of the run to resume."""
        if not self.checkpoint.is_file() or not self.config.is_file():
            raise DerainError(f"{self.root}: nothing to resume (no config.json and checkpoints/last.pt)")
        try:
            return TrainConfig.from_json(json.loads(self.config.read_text(encoding="utf-8"))["options"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DerainError(f"{self.config}: not a readable run configuration ({exc})") from None

    def write_config(self, config: TrainConfig, overwrite: bool = False, **context: Any) -> None:
        """config.json; created exclusively for a new run (a concurrent run in the folder fails), replaced on resume."""
        record = {
            "options": config.to_json(),
            "versions": versions(),
            "git_commit": git_commit(),
            "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **context,
        }
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.config, overwrite) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to metrics.jsonl."""
        with self.metrics.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def drop_records_after(self, step: int) -> None:
        """Forget logged steps after ``step`` (logged after the checkpoint being resumed): they run again."""
        if not self.metrics.is_file():
            return
        lines = self.metrics.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
        if len(kept) != len(lines):
            with atomic_output(self.metrics, overwrite=True) as tmp:
                tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def save_model(self, state: dict[str, torch.Tensor], config: TrainConfig, step: int) -> None:
        """Write the weights alone, loadable with ``--weights``; the architecture is in the metadata."""
        meta = architecture_metadata(config.model)
        meta.update({"step": str(step), "dataset": config.dataset, "losses": json.dumps(config.losses, sort_keys=True)})
        if config.teacher:
            meta["teacher"] = config.teacher
        save_safetensors(state, self.model, meta, overwrite=True)
        if config.snapshots:  # every model the run writes, for `derain weights average`
            (self.root / "snapshots").mkdir(exist_ok=True)
            save_safetensors(state, self.root / "snapshots" / f"step_{step:06d}.safetensors", meta, overwrite=True)

    def save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.checkpoint, overwrite=True) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self) -> dict[str, Any]:
        try:
            return torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file: torch raises many types
            raise DerainError(f"{self.checkpoint}: not a readable training checkpoint ({exc})") from None
