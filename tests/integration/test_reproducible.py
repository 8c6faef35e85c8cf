"""Same inventory and binaries, built twice at different times: identical AppImage bytes.

Each image also passes the `static` check (nix/checks/static.sh) when the binaries are the
shipped builds (tests/integration/test_static.py covers the fallback case).
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

import appimagetool
import pytest
from conftest import Program, static_check

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.root, pytest.mark.integration]


def test_same_appdir_twice_gives_identical_bytes(
    bin_dir: Path, tmp_path: Path, programs: dict[str, Program]
) -> None:
    digests = []
    for i in range(2):
        appdir = tmp_path / f"appdir{i}"
        appimagetool.assemble("beta", bin_dir, appdir)
        image = appimagetool.build(appdir, tmp_path / f"beta{i}.AppImage")
        digests.append(hashlib.sha256(image.read_bytes()).hexdigest())
        if all(p.shipped for p in programs.values()):
            result = static_check(image)
            assert result.returncode == 0, result.stdout + result.stderr
        time.sleep(1.1)  # a second apart: any wall-clock time in the output would show
    assert digests[0] == digests[1]
