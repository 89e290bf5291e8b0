"""``python -m derain_cli``: the same as the ``derain`` command."""

from derain_cli.cli import main

main()
