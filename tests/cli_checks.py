"""Checks shared by the hostile-input tests: one error line naming the file, the exit code, no traceback."""

from __future__ import annotations

from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from derain_cli.cli import app

runner = CliRunner()


def invoke(*args: object, env: dict[str, str] | None = None) -> Result:
    """Run ``derain ARGS`` in this process (stdout and stderr kept apart)."""
    return runner.invoke(app, [str(a) for a in args], env=env)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def assert_refused(result: Result, code: int, *needles: str) -> str:
    """Exit ``code``, no traceback, and exactly one error line, containing every needle; returns it."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes (inputs must come out unchanged)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
