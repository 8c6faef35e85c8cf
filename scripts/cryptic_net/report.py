"""Reporting, apart from checking: the diagnostics of a run as text (one line each) or JSON.

The JSON form, for tools (`cryptic-net validate --format json`), is one object:
`{"ok": bool, "errors": int, "warnings": int, "diagnostics": [{"file", "line", "col", "path",
"message", "severity", "check"}...]}` (`check`: the id of the check that found it, `cryptic-net
explain ID`; empty for the loader and the schema) on stdout, sorted like the text.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptic_net.errors import Diagnostic


def text(diagnostics: list[Diagnostic]) -> str:
    """Every diagnostic on its own line, then the count of errors (when there are any)."""
    ordered = sorted(diagnostics)
    errors = sum(1 for d in ordered if d.severity == "error")
    lines = [str(d) for d in ordered]
    if errors:
        lines.append(f"{errors} error{'s' if errors != 1 else ''}")
    return "".join(f"{line}\n" for line in lines)


def as_json(diagnostics: list[Diagnostic]) -> str:
    ordered = sorted(diagnostics)
    errors = sum(1 for d in ordered if d.severity == "error")
    doc = {
        "ok": errors == 0,
        "errors": errors,
        "warnings": len(ordered) - errors,
        "diagnostics": [asdict(d) for d in ordered],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
