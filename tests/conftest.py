"""Shared fixtures: a throwaway copy of the example inventory and a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HOSTS = ("lighthouse", "alpha", "beta")


def copy_inventory(dest: Path) -> Path:
    """network.yml, ca.crt, hosts/ and appdir/ of the example network, nothing else."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("network.yml", "ca.crt"):
        shutil.copy2(REPO / name, dest / name)
    (dest / "hosts").mkdir()
    for path in sorted((REPO / "hosts").iterdir()):
        if path.suffix in {".yml", ".crt", ".key"}:
            shutil.copy2(path, dest / "hosts" / path.name)
    if (REPO / "appdir").is_dir():
        shutil.copytree(REPO / "appdir", dest / "appdir", symlinks=True)
    return dest


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    return copy_inventory(tmp_path / "inv")


@pytest.fixture
def other_ca(tmp_path: Path) -> Path:
    """A directory with ca.crt and ca.key of a CA that is not the network's."""
    from cryptic_net import certs  # noqa: PLC0415 (the package is under test; import late)

    other = tmp_path / "other"
    other.mkdir()
    certs.make_ca("other", "8760h", other / "ca.crt", other / "ca.key")
    return other


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it (a separate process: tracebacks show)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cryptic_net", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
