"""The one error type for bad COOS-7 input."""

from __future__ import annotations

from pathlib import Path


class CoosDataError(ValueError):
    """Raised for any unusable input; the message names the file and the problem."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(problem if path is None else f"{path}: {problem}")
