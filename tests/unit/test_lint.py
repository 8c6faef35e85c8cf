"""The house style, checked: ruff (select ALL, every ignore commented in pyproject) and mypy strict."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    assert found, f"{name} is not installed: tests/run installs the [lint] extra"
    return str(found)


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "scripts", "tests", "bench"],
        ["ruff", "format", "--check", "scripts", "tests", "bench"],
        ["mypy"],  # strict, on scripts/cryptic_net (pyproject.toml)
    ],
    ids=["ruff", "ruff-format", "mypy"],
)
def test_lint(command: list[str]) -> None:
    result = subprocess.run(
        [tool(command[0]), *command[1:]], cwd=REPO, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
