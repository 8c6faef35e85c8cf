"""Paths the inventory names: shown safely, resolved inside the inventory, never a traceback.

A path value is hostile: it may be 300 characters long (`OSError: File name too long`), hold a
NUL (`ValueError: embedded null byte`) or a newline. Every such failure becomes a message the
caller places at the value's YAML node.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def shown(text: str) -> str:
    """`text` with control characters escaped, so that a message stays one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def display(root: Path, path: Path) -> str:
    try:
        return shown(str(path.relative_to(root)))
    except ValueError:
        return shown(str(path))


def inside(root: Path, base: Path, value: str, real_root: Path | None = None) -> Path | str:
    """Resolve `value` against `base`: the file when it exists inside `root`, else why not."""
    candidate = base / value
    try:
        resolved = candidate.resolve()
        if not resolved.is_relative_to(real_root or root.resolve()):
            return f"{value!r} points outside the inventory ({shown(str(resolved))})"
        if not resolved.is_file():
            return f"{value!r} does not exist ({display(root, candidate)})"
    except (OSError, ValueError) as exc:
        return f"{value!r} cannot be used as a path: {_reason(exc)}"
    return resolved


def _reason(exc: OSError | ValueError) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
