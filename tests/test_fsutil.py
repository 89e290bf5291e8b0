"""fsutil.atomic_output: exclusive commits, short temporary names, partial files cleaned on failure and signals."""

import os
import signal
import subprocess
import sys

import pytest

from derain_cli.errors import DerainError
from derain_cli.fsutil import atomic_output, partial_path, sweep_stale_partials


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_commit_puts_the_file_in_place_and_leaves_nothing_else(tmp_path):
    with atomic_output(tmp_path / "out.png") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.suffix == ".png"
        tmp.write_bytes(b"new")
    assert _names(tmp_path) == ["out.png"] and (tmp_path / "out.png").read_bytes() == b"new"


def test_a_file_created_while_writing_is_kept_unless_overwrite(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(DerainError, match="out.png: already exists .*not replaced"):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"mine")
            target.write_bytes(b"theirs")  # another run commits the same name meanwhile
    assert _names(tmp_path) == ["out.png"] and target.read_bytes() == b"theirs"
    with atomic_output(target, overwrite=True) as tmp:
        tmp.write_bytes(b"mine")
    assert target.read_bytes() == b"mine"


def test_an_existing_link_or_dangling_link_is_not_written_through(tmp_path):
    (tmp_path / "elsewhere").write_bytes(b"keep")
    (tmp_path / "out.png").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "missing")
    for name in ("out.png", "dangling.png"):
        with pytest.raises(DerainError, match="already exists"):
            with atomic_output(tmp_path / name) as tmp:
                tmp.write_bytes(b"x")
    assert (tmp_path / "elsewhere").read_bytes() == b"keep" and not (tmp_path / "missing").exists()
    assert _names(tmp_path) == ["dangling.png", "elsewhere", "out.png"]


def test_failure_inside_the_block_removes_the_partial(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_output(tmp_path / "out.png") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("encoder died")
    assert _names(tmp_path) == []


@pytest.mark.parametrize("name", ["o" * 240 + ".png", "outname", "a." + "x" * 200])
def test_the_temporary_name_is_short_and_keeps_only_a_real_suffix(tmp_path, name):
    tmp = partial_path(tmp_path / name)
    assert len(tmp.name) <= 60 and tmp.suffix == (".png" if name.endswith(".png") else "")
    with atomic_output(tmp_path / name) as tmp:  # a valid 244-character name stays valid
        tmp.write_bytes(b"x")
    assert _names(tmp_path) == [name]


def test_os_errors_name_the_output_not_the_temporary_file(tmp_path):
    (tmp_path / "out.png").mkdir()  # a folder in the way, replaced only with overwrite
    with pytest.raises(DerainError) as info:
        with atomic_output(tmp_path / "out.png", overwrite=True) as tmp:
            tmp.write_bytes(b"x")
    assert str(info.value).startswith(f"{tmp_path / 'out.png'}: cannot write") and "partial" not in str(info.value)
    assert _names(tmp_path) == ["out.png"]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_partials_of_dead_processes_are_swept_and_live_ones_kept(tmp_path):
    ours = partial_path(tmp_path / "a.png")
    dead = ours.with_name(ours.name.replace(f"-{os.getpid()}-", f"-{_dead_pid()}-"))
    alien = tmp_path / ".derain-partial-zzzzzz-1-00000000.png"  # not our name pattern: never touched
    for path in (ours, dead, alien, tmp_path / "user.png"):
        path.write_bytes(b"x")
    assert sweep_stale_partials(tmp_path) == [dead]
    assert _names(tmp_path) == sorted([ours.name, alien.name, "user.png"])


def _child_holding_a_partial(target, signum):
    """Fork a child that opens an output and waits inside the block; signal it; return (status, partials seen)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: plain file operations only
        try:
            os.close(read)
            if signum != signal.SIGKILL:  # as in a terminal: a run under nohup inherits SIGHUP ignored
                signal.signal(signum, signal.SIG_DFL)
            with atomic_output(target) as tmp:
                tmp.write_bytes(b"half")
                os.write(write, b"1")
                signal.pause()
        finally:
            os._exit(3)  # not reached on TERM/HUP/KILL
    os.close(write)
    assert os.read(read, 1) == b"1"
    seen = sorted(p.name for p in target.parent.iterdir())
    os.kill(pid, signum)
    _, status = os.waitpid(pid, 0)
    os.close(read)
    return status, seen


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_term_and_hup_remove_the_partial_and_still_kill(tmp_path, signum):
    status, seen = _child_holding_a_partial(tmp_path / "out.png", signum)
    assert len(seen) == 1 and seen[0].startswith(".derain-partial-")
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signum
    assert _names(tmp_path) == []


def test_a_sigkill_leftover_is_removed_by_the_next_write_in_that_folder(tmp_path):
    status, _ = _child_holding_a_partial(tmp_path / "out.png", signal.SIGKILL)
    assert os.WTERMSIG(status) == signal.SIGKILL
    [leftover] = _names(tmp_path)
    assert leftover.startswith(".derain-partial-")
    with atomic_output(tmp_path / "next.png") as tmp:
        tmp.write_bytes(b"x")
    assert _names(tmp_path) == ["next.png"]
