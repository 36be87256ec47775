"""The one error type for bad COOS-7 input."""

from __future__ import annotations

from pathlib import Path


class CoosDataError(ValueError):
    """Raised for any unusable input; the message names the file and the problem.

    ``CoosDataError(text)`` with one argument rebuilds an error from its text alone, as torch
    does for an error raised in a ``DataLoader`` worker (the text is then the worker's
    traceback, of which the error's own one-line message is kept).
    """

    def __init__(self, path: str | Path | None, problem: str | None = None) -> None:
        if problem is None:
            path, problem = None, _own_message(str(path), type(self).__name__)
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(problem if path is None else f"{path}: {problem}")

    def __reduce__(self) -> tuple:
        return type(self), (self.path, self.problem)


def _own_message(text: str, name: str) -> str:
    """The message of the exception ``name`` when ``text`` is a formatted traceback ending in
    one (``package.module.Name: message``), else ``text``."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return text
    raised, separator, message = lines[-1].partition(": ")
    return message if separator and raised.split(".")[-1] == name else text
