"""Same inventory and binaries, built twice at different times: identical AppImage bytes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import appimagetool
import pytest
from conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.root, pytest.mark.integration]


def test_same_appdir_twice_gives_identical_bytes(bin_dir: Path, tmp_path: Path) -> None:
    digests = []
    for i in range(2):
        appdir = tmp_path / f"appdir{i}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cryptic_net",
                "appdir",
                "beta",
                "--root",
                str(REPO),
                "--bin-dir",
                str(bin_dir),
                "--out",
                str(appdir),
            ],
            check=True,
            cwd=REPO,
            env={**os.environ, "SOURCE_DATE_EPOCH": "1"},
        )
        image = appimagetool.build(appdir, tmp_path / f"beta{i}.AppImage")
        digests.append(hashlib.sha256(image.read_bytes()).hexdigest())
        time.sleep(1.1)  # a second apart: any wall-clock time in the output would show
    assert digests[0] == digests[1]
