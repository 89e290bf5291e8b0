"""The application shell: help pages that cost no heavy import, and that name values instead of Python types."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from derain_cli.cli import app

runner = CliRunner()
HEAVY = ("torch", "cv2", "av", "ray", "transformers")
COMMANDS = [[], ["image"], ["video"], ["eval"], ["train"], ["online-update"], ["synth"], ["weights"], ["weights", "list"]]


def test_help_pages_import_no_heavy_library():
    script = (
        "import sys\nfrom derain_cli.cli import app\n"
        f"for args in {COMMANDS!r}:\n"
        "    try:\n        app([*args, '--help'], prog_name='derain')\n    except SystemExit:\n        pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args) or "derain")
def test_help_names_values_instead_of_python_types(args):
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    for placeholder in ("<bool>", "<str>", "<list[str]>", "<path>", "<int>", "<float>"):
        assert placeholder not in result.stdout, placeholder
