"""The Typer application and the error handling every command shares."""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer._click.exceptions import NoArgsIsHelpError, UsageError as CommandLineError  # typer vendors click
from typer._click import Context as TyperContext
from typer.core import TyperArgument, TyperGroup

from derain_cli import __version__
from derain_cli.errors import DerainError, one_line, printable


class _Diagnostics(Console):
    """stderr: when its reader has gone (a closed pipe), messages are dropped and the work goes on."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # rich's default exits the program


# Messages, progress and tables go to stderr; stdout carries only machine-readable results.
# soft_wrap: a one-line message stays one line in logs and pipes, however long its paths are.
console = _Diagnostics(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

_state = {"debug": False}
DEBUG_ENV = "DERAIN_DEBUG"


def error(message: str) -> None:
    """Print a one-line error to stderr (the message is not read as markup: paths and pip extras keep their brackets;
    newlines and undecodable bytes in file names are escaped)."""
    console.print(f"[bold red]error:[/] {escape(printable(message))}", highlight=False)


def emit(text: str) -> None:
    """Write a machine-readable result line to stdout: a result that cannot be written is an error, never lost."""
    if sys.stdout is None:  # fd 1 was closed when Python started
        raise DerainError("cannot write the result: standard output is closed")
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        raise DerainError(f"cannot write the result to standard output ({one_line(exc)})") from None


def _quiet_broken_pipe() -> None:
    """The reader of stdout has gone (``derain ... | head -1``): stop quietly, as Unix tools do."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    if sys.stdout is not None:
        try:
            os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail again
        except (OSError, ValueError):
            pass


def debug_enabled() -> bool:
    """True when ``--debug`` or DERAIN_DEBUG (1, true or yes; not 0 or no) asks for full tracebacks."""
    return _state["debug"] or os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")


def _quiet_libraries() -> None:
    """Our one-line errors carry the cause: OpenCV's log lines and library warnings around them are noise.

    ``--debug`` keeps them.
    """
    if debug_enabled():
        return
    os.environ["OPENCV_LOG_LEVEL"] = "SILENT"  # read when OpenCV loads: commands that never need it skip its import
    if "cv2" in sys.modules:
        cv2 = sys.modules["cv2"]
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    warnings.simplefilter("ignore")


def print_traceback(exc: BaseException) -> None:
    """Print ``exc`` with its traceback to stderr (for ``--debug``)."""
    console.print("".join(traceback.format_exception(exc)), highlight=False, markup=False)


def _name_values(command: click.Command) -> None:
    """Typer's help shows each value's Python type (``<bool>``, ``<str>``, ``<list[str]>``): name the value instead
    (``--model MODEL``, or the metavar given), show nothing for flags, and leave the width to the help texts."""
    help_option = command.get_help_option(TyperContext(command))
    for param in [*command.params, *([help_option] if help_option else [])]:
        if isinstance(param, TyperArgument):  # the name column shows it already
            param.display_type_rich = lambda ctx: ""  # type: ignore[method-assign]
        elif getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = (param.name or "value").upper()
    for sub in getattr(command, "commands", {}).values():
        _name_values(sub)


class _ErrorHandlingGroup(TyperGroup):
    """Turns user mistakes into one-line errors with an exit code instead of a traceback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _name_values(self)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CommandLineError as exc:  # a bad option or argument: one line too, exit 2
            if debug_enabled() or isinstance(exc, NoArgsIsHelpError):
                raise
            where = exc.ctx.command_path if exc.ctx else ctx.command_path
            error(f"{exc.format_message()} (see '{where} --help')")
            raise typer.Exit(2) from None
        except BrokenPipeError:
            _quiet_broken_pipe()
            raise typer.Exit(1) from None
        except (DerainError, OSError) as exc:
            if debug_enabled():
                raise
            error(one_line(exc))
            raise typer.Exit(getattr(exc, "exit_code", 1)) from None
        except KeyboardInterrupt:
            error("interrupted")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_ErrorHandlingGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    help="Remove rain streaks from photos and videos with pretrained deep networks.",
)


def _version(value: bool) -> None:
    if value:
        out.print(f"derain-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks for errors (or set DERAIN_DEBUG=1).")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """derain: derain images and videos, evaluate, fine-tune and train deraining networks."""
    _state["debug"] = debug
    _quiet_libraries()
