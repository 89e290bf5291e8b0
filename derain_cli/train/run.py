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
from filelock import FileLock, Timeout

from derain_cli import __version__
from derain_cli.checkpoints import architecture_metadata, load_state_dict, save_safetensors, save_torch
from derain_cli.errors import DerainError, load_failure, one_line
from derain_cli.fsutil import write_atomic
from derain_cli.train.config import TrainConfig

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
LOCK_NAME = ".lock"
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "scaler", "step", "rng")


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

    def lock(self) -> None:
        """Hold the folder for this run: a second ``derain train`` on it (a concurrent ``--resume``) is refused."""
        self._created = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(self.root / LOCK_NAME, timeout=0)  # an OS lock: a killed run releases it
        try:
            self._lock.acquire()
        except Timeout:
            raise DerainError(f"{self.root}: another derain train is running in this folder; wait for it to end") from None
        except OSError as exc:
            raise DerainError(f"{self.root / LOCK_NAME}: cannot lock the run folder ({exc.strerror or exc})") from None

    def unlock(self) -> None:
        """Release the folder; one this run created and left empty (it failed before writing) is removed."""
        self._lock.release()
        try:
            if self._created and [p.name for p in self.root.iterdir()] == [LOCK_NAME]:
                (self.root / LOCK_NAME).unlink(missing_ok=True)
                self.root.rmdir()
        except OSError:
            pass  # another process is using the folder now: it is theirs to keep

    def check_new(self) -> None:
        """Refuse to start a new run over one that saved a checkpoint (one that failed before is started again)."""
        if self.checkpoint.exists():
            raise DerainError(f"{self.root}: already holds a training run; pass --resume to continue it or choose another -o")

    def saved_config(self) -> TrainConfig:
        """The configuration of the run to resume: config.json, or the one the checkpoint records."""
        if self.config.is_file():
            try:
                return TrainConfig.from_json(json.loads(self.config.read_text(encoding="utf-8"))["options"])
            except (ValueError, KeyError, TypeError) as exc:
                raise DerainError(f"{self.config}: not a readable run configuration ({one_line(exc)})") from None
        checkpoint = self.load_checkpoint()
        if checkpoint is None:
            raise DerainError(f"{self.root}: nothing to resume (no config.json or checkpoints/last.pt); start a new run there without --resume")
        try:
            return TrainConfig.from_json(checkpoint["options"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DerainError(f"{self.checkpoint}: records no readable run configuration ({one_line(exc)})") from None

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
        write_atomic(self.config, (json.dumps(record, indent=2) + "\n").encode(), overwrite)

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to metrics.jsonl."""
        try:
            with self.metrics.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        except OSError as exc:
            raise DerainError(f"{self.metrics}: cannot write ({exc.strerror or exc})") from None

    def drop_records_after(self, step: int) -> None:
        """Forget logged steps after ``step`` (logged after the checkpoint being resumed: they run again), and any
        line that is not a whole record (a run killed while writing it)."""
        if not self.metrics.is_file():
            return
        text = self.metrics.read_text(encoding="utf-8", errors="replace")
        lines = text.splitlines()
        kept = [line for line in lines if _step_of(line) is not None and _step_of(line) <= step]
        if len(kept) != len(lines) or not text.endswith("\n") and text:
            write_atomic(self.metrics, "".join(line + "\n" for line in kept).encode(), overwrite=True)

    def save_model(self, state: dict[str, torch.Tensor], config: TrainConfig, step: int) -> None:
        """Write the weights alone, loadable with ``--weights``; the architecture is in the metadata."""
        meta = architecture_metadata(config.model, config.model_options)
        meta.update({"step": str(step), "dataset": config.dataset, "losses": json.dumps(config.losses, sort_keys=True)})
        if config.teacher:
            meta["teacher"] = config.teacher
        save_safetensors(state, self.model, meta, overwrite=True)
        if config.snapshots:  # every model the run writes, for `derain weights average`
            (self.root / "snapshots").mkdir(exist_ok=True)
            save_safetensors(state, self.root / "snapshots" / f"step_{step:06d}.safetensors", meta, overwrite=True)

    def save_checkpoint(self, checkpoint: dict[str, Any], separate_weights: bool = False) -> None:
        """Write last.pt whole or not at all (a full disk leaves the previous one).

        ``separate_weights`` (--compact-checkpoints): the weights go first to ``checkpoints/weights_STEP.safetensors``
        and last.pt names that file, so no file of a committed run state is over 2 MB; older weights files are
        removed only after last.pt is written, so the pair stays whole whenever the run is killed."""
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        if separate_weights:
            name = f"weights_{checkpoint['step']:06d}.safetensors"
            save_safetensors(checkpoint["model"], self.checkpoint.parent / name, overwrite=True)
            checkpoint = {**checkpoint, "model": name}
        save_torch(checkpoint, self.checkpoint)
        for old in self.checkpoint.parent.glob("weights_*.safetensors"):
            if old.name != checkpoint["model"]:
                old.unlink(missing_ok=True)

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The checkpoint to resume from, checked to be one of ``derain train``; None when the run has none yet."""
        if not self.checkpoint.exists():
            return None
        try:
            checkpoint = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file: torch raises many types
            raise DerainError(f"{self.checkpoint}: not a readable training checkpoint ({load_failure(exc)})") from None
        missing = [key for key in CHECKPOINT_KEYS if not isinstance(checkpoint, dict) or key not in checkpoint]
        if missing:
            raise DerainError(
                f"{self.checkpoint}: not a checkpoint of derain train (no {missing[0]!r}); to start from such weights, "
                "run a new training in another folder with --weights FILE"
            )
        if isinstance(checkpoint["model"], str):  # saved with separate weights
            checkpoint["model"] = load_state_dict(self.checkpoint.parent / checkpoint["model"])
        return checkpoint


def _step_of(line: str) -> int | None:
    """The step of a metrics.jsonl line, None for a line that is not a whole record."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    step = record.get("step") if isinstance(record, dict) else None
    return step if isinstance(step, int) else None
