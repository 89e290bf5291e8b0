"""A run folder of `derain train` is always resumable or cleanly restartable: failures at step 1, kill -9 at
any point, a full disk, partial log lines, foreign or mismatched checkpoints, two runs at once."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from filelock import FileLock
from typer.testing import CliRunner

from derain_cli.cli import app
from paired_data import write_pairs

runner = CliRunner()
RECIPE = ["-m", "prenet", "--losses", "ssim", "--batch-size", "2", "--patch", "16"]


def train(*args: object) -> object:
    return runner.invoke(app, ["train", "--device", "cpu", "--workers", "0", "-q", *map(str, args)])


def steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("pairs"), count=4, size=(40, 36))


def _one_line_error(result, text: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.output.strip().startswith("error: ") and len(result.output.strip().splitlines()) == 1, result.output
    assert text in result.output, result.output


def test_a_run_that_failed_before_its_first_checkpoint_starts_again_resumed_or_not(pairs: Path, tmp_path: Path) -> None:
    broken = write_pairs(tmp_path / "data", count=4, size=(40, 36))
    victim = sorted((broken / "input").iterdir())[2]
    victim.write_bytes(victim.read_bytes()[:200])  # a truncated image, found when a DataLoader worker reads it
    run = tmp_path / "run"
    result = train("-D", broken, *RECIPE, "--max-steps", "4", "-o", run)
    _one_line_error(result, f"{victim}: unreadable or truncated image")
    assert not (run / "checkpoints" / "last.pt").exists()
    resumed = train("--resume", "-o", run)  # the pairs are checked before the run folder is written: nothing saved
    _one_line_error(resumed, "nothing to resume (no config.json or checkpoints/last.pt); start a new run there without --resume")
    again = train("-D", pairs, *RECIPE, "--max-steps", "2", "-o", run)  # a new run in the same folder
    assert again.exit_code == 0, again.output
    assert steps(run) == [1, 2]


class _Unreadable(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> torch.Tensor:
        from derain_cli.errors import DerainError

        raise DerainError(f"/data/{index}.png: unreadable or truncated image")


def test_an_error_in_a_dataloader_worker_is_its_own_one_line():
    from derain_cli.errors import DerainError
    from derain_cli.train.trainer import _worker_errors

    loader = torch.utils.data.DataLoader(_Unreadable(), num_workers=1)
    with pytest.raises(DerainError) as caught:
        list(_worker_errors(loader))
    assert str(caught.value) == "/data/0.png: unreadable or truncated image"


def test_a_partial_last_line_of_the_log_is_dropped_on_resume(pairs: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert train("-D", pairs, *RECIPE, "--max-steps", "2", "--checkpoint-every", "1", "-o", run).exit_code == 0
    with (run / "metrics.jsonl").open("a") as log:
        log.write('{"step": 3, "loss": 0.12')  # killed while writing
    result = train("--resume", "--max-steps", "3", "-o", run)
    assert result.exit_code == 0, result.output
    assert steps(run) == [1, 2, 3]


def test_a_foreign_or_mismatched_checkpoint_is_one_line(pairs: Path, tmp_path: Path) -> None:
    from derain_cli.models import create_model

    run = tmp_path / "run"
    assert train("-D", pairs, *RECIPE, "--max-steps", "1", "-o", run).exit_code == 0
    last = run / "checkpoints" / "last.pt"
    ours = torch.load(last, weights_only=True)
    torch.save(create_model("prenet").state_dict(), last)  # an authors' .pth under the name
    _one_line_error(train("--resume", "--max-steps", "2", "-o", run), "not a checkpoint of derain train (no 'model')")
    other = torch.optim.Adam(create_model("sapnet").parameters())
    torch.save({**ours, "optimizer": other.state_dict()}, last)
    _one_line_error(train("--resume", "--max-steps", "2", "-o", run), "its optimizer state does not fit this run")


def test_two_runs_never_share_a_folder(pairs: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert train("-D", pairs, *RECIPE, "--max-steps", "1", "-o", run).exit_code == 0
    with FileLock(run / ".lock", timeout=0):  # what a running `derain train --resume` holds
        _one_line_error(train("--resume", "--max-steps", "2", "-o", run), "another derain train is running in this folder")
    assert steps(run) == [1]
    assert train("--resume", "--max-steps", "2", "-o", run).exit_code == 0


def _cli(*args: object) -> list[str]:
    return [sys.executable, "-m", "derain_cli", "train", "--device", "cpu", "--workers", "0", "-q", *map(str, args)]


def test_a_full_disk_while_saving_names_the_file_and_the_rerun_resumes(pairs: Path, tmp_path: Path) -> None:
    def small_files() -> None:  # the run's files may not grow past 64 KB: writing last.pt fails as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    run = tmp_path / "run"
    full = subprocess.run(_cli("-D", pairs, *RECIPE, "--max-steps", "2", "-o", run), capture_output=True, text=True,
                          preexec_fn=small_files, timeout=300)  # fmt: skip
    assert full.returncode == 1, full.stderr
    assert full.stderr.strip().splitlines() == [f"error: {run / 'checkpoints' / 'last.pt'}: cannot write (File too large)"]
    assert not [p for p in run.rglob(".derain-partial-*")]
    result = train("--resume", "-o", run)
    assert result.exit_code == 0, result.output
    assert steps(run) == [1, 2]


@pytest.mark.slow
def test_killed_at_random_points_the_next_resume_continues(pairs: Path, tmp_path: Path) -> None:
    """kill -9 a real run three times at random moments of its steps (log line, checkpoint, model file)."""
    run, total = tmp_path / "run", 60
    draw = random.Random(29)
    command = _cli("-D", pairs, *RECIPE, "--max-steps", total, "--checkpoint-every", "1", "-o", run)
    for attempt in range(3):
        process = subprocess.Popen(command if attempt == 0 else _cli("--resume", "-o", run), stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None and not (run / "metrics.jsonl").is_file():
            time.sleep(0.01)
        time.sleep(draw.uniform(0.0, 0.3))
        assert process.poll() is None, process.communicate()[1]
        process.kill()
        process.wait()
    finished = subprocess.run(_cli("--resume", "-o", run), capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert steps(run) == list(range(1, total + 1))
    assert not [p for p in run.rglob(".derain-partial-*")]


@pytest.mark.parametrize("option", [["--task-ce-weight", "-1"], ["--task-feature-weight", "nan"], ["--losses", "ssim:-0.5"]])
def test_negative_or_nan_loss_weights_are_usage_errors(pairs: Path, tmp_path: Path, option: list[str]) -> None:
    result = train("-D", pairs, "-m", "prenet", "--max-steps", "1", *option, "-o", tmp_path / "run")
    assert result.exit_code == 2 and "must be a finite number >= 0" in result.output, result.output
    assert not (tmp_path / "run" / "config.json").exists()


def test_a_validation_pair_that_fails_stops_the_run_instead_of_logging_nan(pairs: Path, tmp_path: Path) -> None:
    val = write_pairs(tmp_path / "val", count=2, size=(40, 36))
    victim = sorted((val / "input").iterdir())[0]
    victim.write_bytes(b"not an image")
    run = tmp_path / "run"
    result = train("-D", pairs, *RECIPE, "--max-steps", "2", "--val", val, "--val-every", "1", "-o", run)
    _one_line_error(result, "--val: 1 pair(s) failed")
    metrics = run / "metrics.jsonl"
    assert not metrics.exists() or "NaN" not in metrics.read_text()


@pytest.mark.parametrize("signum, workers", [(signal.SIGTERM, 0), (signal.SIGHUP, 0), (signal.SIGTERM, 1)])
def test_a_run_stopped_by_sigterm_or_sighup_saves_the_step_it_was_at(pairs: Path, tmp_path: Path, signum: int, workers: int) -> None:
    """A time limit (`timeout`, a scheduler, a lent GPU's end) stops training without losing the steps since the
    last checkpoint: the step under way finishes, is saved, and --resume continues from it. With a data-loading
    worker the signal goes to the whole process group, as a job's kill sends it: the worker must not die first."""
    run, total = tmp_path / "run", 100_000  # far more than run before the signal: no checkpoint is due either
    command = _cli("-D", pairs, *RECIPE, "--epochs", total, "--max-steps", total, "--checkpoint-every", total, "--workers", workers, "-o", run)
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None and len(steps(run) if (run / "metrics.jsonl").is_file() else []) < 3:
        time.sleep(0.02)
    assert process.poll() is None, process.communicate()[1]
    os.killpg(process.pid, signum)
    stderr = process.communicate(timeout=120)[1]
    done = steps(run)[-1]
    assert process.returncode == 128 + signum, stderr
    assert 3 <= done < total and f"stopped by {signal.Signals(signum).name} after step {done}, saved" in stderr, stderr
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"] == done  # no checkpoint was due before
    resumed = subprocess.run(_cli("--resume", "--max-steps", done + 2, "-o", run), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert steps(run) == list(range(1, done + 3))
