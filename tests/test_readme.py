"""README's shell examples against the real command line, so the front page cannot go stale.

Every `derain ...` command in the shell blocks of README and docs/ must name commands and options that
exist (read from the Typer app, as `derain CMD --help` shows them); README's offline ones run as written
on small images made here; its install and test lines are the ones `.ci/run` runs; relative links point
at files.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from derain_cli.cli import app

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
CLI = typer.main.get_command(app)
SEPARATORS = {"&&", "||", "|", ";", "&"}
REDIRECTIONS = {">", ">>", "<", "2>", "&>"}
# README commands that need no network and no shared files: they run here, in a folder made by `workspace`.
OFFLINE = {("image",), ("synth",), ("weights", "list")}
# Pages other branches add; a link to one of them may dangle until those branches are merged.
def shell_lines(markdown: str) -> list[str]:
    """The logical lines of the ```bash / sh / shell / console blocks (continuations joined)."""
    blocks = re.findall(r"^```(?:bash|sh|shell|console)\n(.*?)^```", markdown, re.M | re.S)
    return [line for block in blocks for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def derain_commands(line: str) -> list[list[str]]:
    """The arguments of each `derain` invocation on a shell line (after env assignments and redirections)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, current = [], []
    tokens = list(lexer)  # comments dropped; raises on an unbalanced quote
    skip = False
    for token in tokens + [";"]:
        if skip:
            skip = False
        elif token in REDIRECTIONS:
            skip = True
        elif token in SEPARATORS:
            while current and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", current[0]):
                current.pop(0)
            if current and current[0] == "derain":
                commands.append(current[1:])
            current = []
        else:
            current.append(token)
    return commands


def readme_commands() -> list[list[str]]:
    return [args for line in shell_lines(README.read_text()) for args in derain_commands(line)]


def option_names(command: object) -> set[str]:
    """Every spelling of the command's options (Typer builds on its own copy of click, so duck-typed)."""
    names = {"--help"}
    for param in command.params:
        if param.param_type_name == "option":
            names.update(param.opts + param.secondary_opts)
    return names


def is_group(command: object) -> bool:
    return hasattr(command, "get_command")


def resolve(args: list[str]) -> tuple[tuple[str, ...], object, list[str]]:
    """(command path, the click command, its own arguments); fails on an unknown command or global option."""
    rest, command, path = list(args), CLI, ()
    while is_group(command):
        while rest and rest[0].startswith("-"):
            assert rest[0] in option_names(command), f"derain {' '.join(path)}: no option {rest[0]}"
            rest.pop(0)
        assert rest, f"derain {' '.join(path)}: no command given"
        name = rest.pop(0)
        sub = command.get_command(command.context_class(command), name)
        assert sub is not None, f"derain {' '.join(path)}: no command {name!r}"
        command, path = sub, (*path, name)
    return path, command, rest


def check(args: list[str]) -> tuple[str, ...]:
    """Fails when ``derain ARGS`` names a command or an option that does not exist; returns the command path."""
    path, command, rest = resolve(args)
    known = option_names(command)
    for token in rest:
        if token == "--":
            break
        if token.startswith("-") and len(token) > 1 and not re.fullmatch(r"-[\d.]+(e-?\d+)?", token):
            name = token.split("=", 1)[0] if token.startswith("--") else token[:2]
            assert name in known, f"derain {' '.join(path)}: no option {name} (README: derain {' '.join(args)})"
    return path


def test_readme_fits_a_five_minute_read() -> None:
    assert len(README.read_text().splitlines()) < 250


def test_every_command_in_the_readme_exists_with_its_options() -> None:
    commands = readme_commands()
    assert len(commands) >= 7, commands
    for args in commands:
        check(args)


@pytest.mark.parametrize("page", sorted((REPO_ROOT / "docs").glob("*.md")), ids=lambda page: page.name)
def test_every_command_in_the_docs_exists_with_its_options(page: Path) -> None:
    for line in shell_lines(page.read_text()):
        for args in derain_commands(line):
            check(args)


def test_the_python_names_the_docs_import_exist() -> None:
    """`from derain_cli... import NAME` in README and docs/ (blocks and inline code) names what the package has."""
    imports = {(module, name.strip()) for page in [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]
               for module, names in re.findall(r"from (derain_cli[\w.]*) import ([\w, ]+)", page.read_text())
               for name in names.split(",") if name.strip()}
    assert len(imports) >= 10, imports
    for module, name in sorted(imports):
        assert hasattr(importlib.import_module(module), name) or importlib.util.find_spec(f"{module}.{name}"), (
            f"docs import {name} from {module}, which has no such name")


def test_the_check_refuses_an_option_or_a_command_that_does_not_exist() -> None:
    assert check(["image", "in.jpg", "-o", "out.png", "--tile", "0"]) == ("image",)
    assert check(["weights", "list"]) == ("weights", "list")
    with pytest.raises(AssertionError, match="no option --tilee"):
        check(["image", "in.jpg", "-o", "out.png", "--tilee", "0"])
    with pytest.raises(AssertionError, match="no command 'imagez'"):
        check(["imagez", "in.jpg"])


def test_every_command_has_an_example_in_the_readme() -> None:
    shown = {path[0] for path in map(check, readme_commands())}
    text = README.read_text()
    context = CLI.context_class(CLI)
    for name in CLI.list_commands(context):
        if not CLI.get_command(context, name).hidden:
            assert name in shown or f"derain {name}" in text, f"README shows no `derain {name}`"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding the inputs README's offline examples name: photos/, clean/ and in.jpg (small images)."""
    rng = np.random.default_rng(0)
    for folder in ("photos", "clean"):
        (tmp_path / folder).mkdir()
        for k in range(2):
            Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(tmp_path / folder / f"{k}.png")
    Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(tmp_path / "in.jpg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def test_the_offline_examples_run_as_written(workspace: Path) -> None:
    runnable = [args for args in readme_commands() if check(args) in OFFLINE]
    assert {check(args) for args in runnable} == OFFLINE, "README lost an offline example this test runs"
    for args in runnable:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, f"derain {' '.join(args)}: {result.output}"
        if "-o" in args:
            assert (workspace / args[args.index("-o") + 1]).exists(), f"derain {' '.join(args)} wrote nothing"


def test_readme_installs_and_tests_exactly_as_ci_does() -> None:
    ci = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip().startswith(("pip install", "pytest"))]
    readme = {line.split("#", 1)[0].strip() for line in shell_lines(README.read_text())}
    assert ci and all(line in readme for line in ci), (ci, readme)
    assert {line for line in readme if line.startswith("pytest")} == {line for line in ci if line.startswith("pytest")}


def test_every_docs_page_is_linked_from_the_readme() -> None:
    text = README.read_text()
    for page in sorted((REPO_ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in text, f"README's documentation list misses docs/{page.name}"


def test_relative_links_point_at_files() -> None:
    pages = [README, *sorted((REPO_ROOT / "docs").glob("*.md")), *sorted((REPO_ROOT / "benchmarks").rglob("*.md"))]
    missing = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            path = (page.parent / target).resolve()
            if not path.exists():
                missing.append(f"{page.relative_to(REPO_ROOT)}: {target}")
    assert not missing, missing
