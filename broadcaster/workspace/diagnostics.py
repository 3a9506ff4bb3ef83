"""Problems found in a workspace, each tied to a file and line."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import PurePosixPath


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One finding: `path:line: message`, path relative to the workspace root."""

    path: str
    line: int
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return f"{self.path}:{self.line}: {prefix}{self.message}"


@dataclass
class Diagnostics:
    """Collects problems so that one run can report all of them at once."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, path: str | PurePosixPath, line: int, message: str) -> None:
        """Record an error at `path:line`."""
        self.problems.append(Problem(str(path), max(line, 1), message, Severity.ERROR))

    def warning(self, path: str | PurePosixPath, line: int, message: str) -> None:
        """Record a warning at `path:line`."""
        self.problems.append(Problem(str(path), max(line, 1), message, Severity.WARNING))

    @property
    def errors(self) -> list[Problem]:
        return sorted(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> list[Problem]:
        return sorted(p for p in self.problems if p.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        return not self.errors


class WorkspaceError(Exception):
    """Raised when a workspace cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
