"""The ``derain`` command line: a thin layer over the Python API, one module per command."""

from derain_cli.cli.app import app
from derain_cli.cli import image as _image  # noqa: F401  (registers `derain image`)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="derain")


__all__ = ["app", "main"]
