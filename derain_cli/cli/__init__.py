"""The ``derain`` command line: a thin layer over the Python API, one module per command."""

from derain_cli.cli.app import app
from derain_cli.cli import image as _image  # noqa: F401  (registers `derain image`)
from derain_cli.cli import eval as _eval  # noqa: F401  (registers `derain eval`)
from derain_cli.cli import video as _video  # noqa: F401  (registers `derain video`)
from derain_cli.cli import weights as _weights  # noqa: F401  (registers `derain weights ...`)
from derain_cli.cli import train as _train  # noqa: F401  (registers `derain train`)
from derain_cli.cli import online_update as _online_update  # noqa: F401  (registers `derain online-update` / `finetune`)
from derain_cli.cli import synth as _synth  # noqa: F401  (registers `derain synth`)
from derain_cli.cli import export as _export  # noqa: F401  (registers `derain export`)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="derain")


__all__ = ["app", "main"]
