"""Batches that must not stop or skip silently, outputs that must not clobber each other, names that must work.

Some run the console script in a subprocess: a crash (SIGSEGV), a closed stderr or a C library's stray
warning line are only visible from outside.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import noise_image
from derain_cli.cli import app
from derain_cli.errors import printable
from derain_cli.fsutil import partial_path
from hostile_files import NON_UTF8_NAME, huge_png, png_claiming, sixteen_bit_png, truncated_png, truncated_sixteen_bit_png

runner = CliRunner()
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, PR_CAPBSET_DROP = 1, 2, 24


def _derain_command(*args) -> list[str]:
    return [sys.executable, "-m", "derain_cli", "image", "--device", "cpu", "-q", *map(str, args)]


def _names(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def _invoke(*args):
    return runner.invoke(app, ["image", "--device", "cpu", "-q", *map(str, args)])


def _drop_root_bypass() -> None:
    """In the child: as root, drop the capabilities that let root ignore file permissions (bounding set)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _permissions_enforced(locked: Path) -> dict:
    """Popen arguments under which the mode 000 folder ``locked`` really cannot be read (as root, which
    bypasses permissions, the child drops the capabilities that do it; skip if it cannot)."""
    if os.geteuid() != 0:
        return {}
    try:
        probe = subprocess.run([sys.executable, "-c", f"import os; os.listdir({str(locked)!r})"],
                               preexec_fn=_drop_root_bypass, capture_output=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        probe = None
    if probe is None or probe.returncode == 0:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE (permissions would not apply)")
    return {"preexec_fn": _drop_root_bypass}


def test_console_script_batch_of_odd_and_hostile_files(tmp_path, tiny_weights):
    """Non-UTF-8 names are read and written, 16-bit ones too (OpenCV crashed on them); every bad file is
    exactly one stderr line."""
    folder = tmp_path / "in"
    folder.mkdir()
    odd = noise_image(folder / NON_UTF8_NAME, 12, 16)
    deep = sixteen_bit_png(folder / os.fsdecode(b"deep\xff.png"))
    bad = [png_claiming(folder / "claims.png"), huge_png(folder / "huge.png"), truncated_png(folder / "two\nlines.png"),
           truncated_sixteen_bit_png(folder / "deep_cut.png")]  # fmt: skip
    noise_image(folder / "z.png", 12, 16, seed=1)
    proc = subprocess.run(_derain_command(folder, "-o", tmp_path / "out", "--weights", tiny_weights),
                          capture_output=True, timeout=300)  # fmt: skip
    stderr = proc.stderr.decode()
    assert proc.returncode == 1, stderr
    lines = stderr.splitlines()  # nothing but our lines: no library warnings around them
    assert len(lines) == 5 and lines[-1] == "error: 4 of 7 input(s) failed", stderr
    for path in bad:
        assert sum(line.startswith(f"error: {printable(str(path))}: ") for line in lines) == 1, stderr
    out = tmp_path / "out"
    assert sorted(os.fsencode(p.name) for p in out.iterdir()) == [b"deep\xff.png", b"z.png", b"\xff\xfe.png"]
    assert (out / deep.name).read_bytes()[24] == 16 and Image.open(out / odd.name).size == (16, 12)  # PNG bit depth


def test_a_closed_stderr_does_not_stop_the_batch(tmp_path, tiny_weights):
    folder = tmp_path / "in"
    folder.mkdir()
    truncated_png(folder / "a_cut.png")  # the first error line goes to a pipe nobody reads
    for seed, name in enumerate(("b.png", "c.png")):
        noise_image(folder / name, 12, 16, seed)
    with subprocess.Popen(_derain_command(folder, "-o", tmp_path / "out", "--weights", tiny_weights),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:  # fmt: skip
        proc.stderr.close()
        assert proc.wait(timeout=300) == 1
    assert _names(tmp_path / "out") == ["b.png", "c.png"]


def test_unreadable_folders_are_reported_and_the_batch_goes_on(tmp_path, tiny_weights):
    """Mode 000 folders: a given one, and (with -r) a sub-folder, which was skipped silently before."""
    locked, tree = tmp_path / "locked", tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    locked.mkdir()
    noise_image(locked / "hidden.png", 12, 16)
    noise_image(tree / "sub" / "deep.png", 12, 16)
    noise_image(tree / "a.png", 12, 16, seed=1)
    good = noise_image(tmp_path / "good.png", 12, 16, seed=2)
    for folder in (locked, tree / "sub"):
        folder.chmod(0)
    try:
        enforce = _permissions_enforced(locked)
        proc = subprocess.run(_derain_command(locked, tree, good, "-r", "-o", tmp_path / "out", "--weights", tiny_weights),
                              capture_output=True, text=True, timeout=300, **enforce)  # fmt: skip
    finally:
        for folder in (locked, tree / "sub"):
            folder.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == [
        f"error: {locked}: cannot read folder (Permission denied)",
        f"error: {tree / 'sub'}: cannot read folder (Permission denied)",
        "error: 2 of 4 input(s) failed",
    ]
    assert _names(tmp_path / "out") == ["a.png", "good.png"]


def test_a_valid_244_character_name_works(tmp_path, tiny_weights):
    stem = "n" * 240
    source = noise_image(tmp_path / f"{stem}.jpg", 12, 16)
    result = _invoke(source, "-o", tmp_path / "out" / f"{stem}.png", "--weights", tiny_weights)
    assert result.exit_code == 0, result.output
    result = _invoke(source, "-o", tmp_path / "folder", "--weights", tiny_weights)
    assert result.exit_code == 0, result.output
    assert _names(tmp_path / "out") == [f"{stem}.png"] and _names(tmp_path / "folder") == [f"{stem}.png"]


def test_errors_name_the_output_not_the_temporary_file(tmp_path, tiny_weights):
    source = noise_image(tmp_path / "a.png", 12, 16)
    (tmp_path / "out" / "a.png").mkdir(parents=True)  # a folder where the output goes: only --overwrite gets that far
    result = _invoke(source, "-o", tmp_path / "out", "--weights", tiny_weights, "--overwrite")
    assert result.exit_code == 1
    assert f"{tmp_path / 'out' / 'a.png'}: cannot write" in result.stderr and "partial" not in result.output
    assert _names(tmp_path / "out") == ["a.png"]


def test_a_later_run_removes_partials_left_by_killed_runs(tmp_path, tiny_weights):
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    ours = partial_path(out / "x.png")
    leftover = ours.with_name(ours.name.replace(f"-{os.getpid()}-", f"-{dead.pid}-"))
    leftover.write_bytes(b"half a file")
    result = _invoke(noise_image(tmp_path / "a.png", 12, 16), "-o", out, "--weights", tiny_weights)
    assert result.exit_code == 0, result.output
    assert _names(out) == ["a.png"]


def test_weights_convert_prints_the_hash_of_the_file_and_never_replaces_it(tmp_path, tiny_weights):
    dst = tmp_path / "copy.safetensors"
    result = runner.invoke(app, ["weights", "convert", str(tiny_weights), str(dst)])
    assert result.exit_code == 0, result.output
    assert result.stdout.split()[0] == hashlib.sha256(dst.read_bytes()).hexdigest()
    before = dst.read_bytes()
    assert runner.invoke(app, ["weights", "convert", str(tiny_weights), str(dst)]).exit_code == 2
    assert dst.read_bytes() == before and _names(tmp_path) == ["copy.safetensors"]


@pytest.mark.slow  # two console scripts at once: ~10-30 s on a loaded machine
def test_two_concurrent_runs_never_replace_each_others_files(tmp_path, tiny_weights):
    """Same stems, different pixels, one output folder, no --overwrite: each file is one run's, and the run
    that did not write it says so (before, both exited 0 and one silently replaced the other's files)."""
    runs = {}
    for run, seed in (("first", 0), ("second", 100)):
        folder = tmp_path / run
        folder.mkdir()
        for k in range(24):
            noise_image(folder / f"{k:02d}.png", 48, 64, seed + k)
        runs[run] = folder
    procs = {run: subprocess.Popen(_derain_command(folder, "-o", tmp_path / "out", "--weights", tiny_weights),
                                   stderr=subprocess.PIPE, text=True) for run, folder in runs.items()}  # fmt: skip
    stderr = {run: proc.communicate(timeout=600)[1] for run, proc in procs.items()}
    assert _names(tmp_path / "out") == [f"{k:02d}.png" for k in range(24)]
    from derain_cli import Derainer

    derainer = Derainer("sapnet", tiny_weights, device="cpu")
    for k in range(24):
        written = np.asarray(Image.open(tmp_path / "out" / f"{k:02d}.png"))
        owners = [run for run, folder in runs.items()
                  if np.array_equal(written, derainer(np.asarray(Image.open(folder / f"{k:02d}.png"))))]  # fmt: skip
        assert len(owners) == 1
        loser = next(run for run in runs if run not in owners)
        assert f"{runs[loser] / f'{k:02d}.png'}: " in stderr[loser] and "already exists" in stderr[loser]
        assert f"{runs[owners[0]] / f'{k:02d}.png'}: " not in stderr[owners[0]]


def test_skip_existing_does_not_count_an_empty_output_as_finished(tmp_path):
    from derain_cli.image_batch import expand_inputs, plan_jobs

    noise_image(tmp_path / "a.png", 16, 16)
    noise_image(tmp_path / "b.png", 16, 16)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"")  # left by something else than our atomic writes
    noise_image(tmp_path / "out" / "b.png", 16, 16)
    found, _ = expand_inputs([str(tmp_path / "a.png"), str(tmp_path / "b.png")])
    jobs, failures, skipped = plan_jobs(found, tmp_path / "out", False, None, overwrite=False, skip_existing=True)
    assert [j.source.name for j in skipped] == ["b.png"] and not jobs
    assert [Path(f.source).name for f in failures] == ["a.png"] and "is empty, not a finished output" in failures[0].message
