"""Helpers for the offline Nix tests: nix binaries only, no nixpkgs, no network.

Every evaluation uses `--store dummy://`: nothing is read from or written to /nix, so the tests
need neither root nor a Nix daemon, and behave the same with Debian 12's nix 2.8 and Debian 13's
nix 2.26.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
STORE = "dummy://"


def nix_env() -> dict[str, str]:
    env = dict(os.environ)
    # `nix eval` is an experimental command on both Debian versions.
    env["NIX_CONFIG"] = "experimental-features = nix-command flakes"
    return env


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} not found on PATH (Debian package nix-bin; tests/run installs it)")
    return path


def run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=nix_env(), capture_output=True, text=True, timeout=120, check=False
    )


def instantiate_eval(expr: str, cwd: Path) -> Any:
    """`nix-instantiate --eval --strict --json` of an expression, decoded."""
    proc = run(
        [need("nix-instantiate"), "--store", STORE, "--eval", "--strict", "--json", "--expr", expr],
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def nix_eval(expr: str, cwd: Path) -> Any:
    """Plain `nix eval --json --expr` (impure only to read files outside the store)."""
    proc = run([need("nix"), "eval", "--store", STORE, "--impure", "--json", "--expr", expr], cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__"}


def repo_files(suffix: str, *, include_tests: bool = True) -> list[Path]:
    """Files of the work tree with this suffix, found without git or nix (safe at collection).

    Symlinks (such as `result` from `nix build`) are not followed.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(REPO):
        rel = Path(dirpath).relative_to(REPO)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS and not (include_tests is False and rel == Path() and d == "tests")
        )
        found += [Path(dirpath) / f for f in filenames if f.endswith(suffix)]
    return sorted(p for p in found if not p.is_symlink())
