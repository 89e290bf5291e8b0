"""User-facing errors: the CLI prints them as one line and exits non-zero, without a traceback."""

from __future__ import annotations

import re


class DerainError(Exception):
    """A problem caused by the user's input or environment (bad file, unreadable checkpoint, ...)."""

    exit_code = 1


class UsageError(DerainError):
    """A bad option value (unknown model or device name, ...): exit code 2, like other usage errors."""

    exit_code = 2


class CheckpointMismatchError(DerainError):
    """A checkpoint does not fit the chosen architecture."""


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` as one line: ours whole (a file name in it may hold a newline; ``printable``
    escapes it), another library's first line."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    return text if isinstance(exc, DerainError) else text.splitlines()[0]


def load_failure(exc: BaseException) -> str:
    """Why a library could not load an untrusted file, as one line; torch's refusal of pickled code is
    named as such, without its advice to re-run with ``weights_only=False`` (which would run that code)."""
    text = str(exc)
    if "Weights only load failed" in text:
        code = re.search(r"(?:unsupported GLOBAL|Unsupported global: GLOBAL) ([\w.]+)", text)
        found = f"pickled code ({code[1]})" if code else "pickled objects that are not tensors"
        return f"it holds {found}, which is never run"
    return one_line(exc)


_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_ESCAPES.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def printable(text: str) -> str:
    """``text`` safe to print as one line: control characters escaped (``\\n``), undecodable file-name bytes as ``\\xff``."""
    return text.translate(_ESCAPES).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
