"""User-facing errors: one base class, located diagnostics, no tracebacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One located message: `file:line:col: $.path: message`."""

    file: str
    line: int
    col: int
    path: str
    message: str
    severity: Severity = "error"
    # The id of the check that found it ("" for the loader and the schema); not part of the
    # text, so messages stay as they were, and not part of the order.
    check: str = field(default="", compare=False)

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.col}: {prefix}{self.path}: {self.message}"


class UserError(Exception):
    """Anything the user can fix. `main()` prints it on one line and exits 2."""


class ValidationFailed(UserError):
    """The inventory has errors; all of them, sorted, one per line."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))
