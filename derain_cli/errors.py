"""User-facing errors: the CLI prints them as one line and exits non-zero, without a traceback."""

from __future__ import annotations


class DerainError(Exception):
    """A problem caused by the user's input or environment (bad file, unreadable checkpoint, ...)."""

    exit_code = 1


class UsageError(DerainError):
    """A bad option value (unknown model or device name, ...): exit code 2, like other usage errors."""

    exit_code = 2


class CheckpointMismatchError(DerainError):
    """A checkpoint does not fit the chosen architecture."""
