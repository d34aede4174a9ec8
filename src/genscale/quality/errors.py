"""The one error a report parser raises: which file, and what was wrong with it."""

from __future__ import annotations

from pathlib import Path

from genscale.errors import UserError


class ReportError(UserError):
    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")
