"""`derain train` under torchrun: two CPU processes (gloo), one writer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from derain_cli.train.distributed import Processes, mean_across, start
from paired_data import write_pairs


def test_alone_without_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    processes = start("cpu")
    assert processes == Processes(0, 1, torch.device("cpu"))
    assert processes.is_main and not processes.distributed
    assert mean_across({"a": torch.tensor(2.0)}, processes) == {"a": 2.0}


@pytest.mark.slow
def test_two_processes_on_cpu_write_one_run(tmp_path: Path) -> None:
    torchrun, derain = shutil.which("torchrun", path=Path(sys.executable).parent), shutil.which("derain", path=Path(sys.executable).parent)
    if torchrun is None or derain is None:
        pytest.skip("torchrun or the derain console script is not installed beside this Python")
    data, run = write_pairs(tmp_path / "pairs", count=4, size=(40, 36)), tmp_path / "run"
    command = [torchrun, "--standalone", "--nproc-per-node", "2", derain, "train", "-D", str(data), "-m", "prenet",
               "--losses", "ssim", "--batch-size", "2", "--patch", "16", "--max-steps", "2", "--device", "cpu",
               "--workers", "0", "-o", str(run)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((run / "config.json").read_text())
    assert config["world_size"] == 2
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]  # rank 0 alone logs
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"] == 2
    files = sorted(p.name for p in run.rglob("*") if p.is_file())
    assert files == [".lock", "config.json", "last.pt", "metrics.jsonl", "model.safetensors"]  # .lock: the run folder's lock
    assert result.stderr.count("Trained steps 1-2") == 1
