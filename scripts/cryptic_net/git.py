"""Asking git about an inventory: a flake sees only the files git tracks.

Used by the commands that write files (they stage them) and by the check that warns about an
inventory file git does not track. git is optional: without it, or outside a work tree, the
answer is None and the callers say what to do by hand.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

GIT_TIMEOUT = 30


def git(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str] | None:
    """`git -C root ARGS` (reading `stdin`), or None when git is missing, cannot run or takes too
    long."""
    found = shutil.which("git")
    if found is None:
        return None
    try:
        return subprocess.run(
            [found, "-C", str(root), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
