"""pkgs/appimagetool's two scripts, run as the package installs them (placeholders filled in).

appimagetool 10 ignores mksquashfs's exit status; with these scripts a failed mksquashfs fails
the build. Stand-ins: an `appimagetool` that runs `mksquashfs` from its PATH and, like the real
one, exits 0 whatever happened, and an `mksquashfs` that fails or succeeds on request.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest

from tests.nix.nixtools import REPO

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.nix

PKG = REPO / "pkgs" / "appimagetool"

FAKE_APPIMAGETOOL = """#!/bin/sh
# Like appimagetool 10: runs mksquashfs, ignores its status, writes the output.
mksquashfs AppDir "$2.squashfs"
echo runtime >"$2"
exit "${FAKE_APPIMAGETOOL_STATUS:-0}"
"""
FAKE_MKSQUASHFS = """#!/bin/sh
echo "mksquashfs: $FAKE_MKSQUASHFS_SAYS" >&2
exit "${FAKE_MKSQUASHFS_STATUS:-0}"
"""


def install(tmp: Path) -> Path:
    """$out/bin as pkgs/appimagetool/package.nix lays it out."""
    real = tmp / "real"
    real.mkdir()
    (real / "mksquashfs").write_text(FAKE_MKSQUASHFS, encoding="utf-8")
    bin_dir = tmp / "out" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / ".appimagetool-wrapped").write_text(FAKE_APPIMAGETOOL, encoding="utf-8")
    values = {
        "shell": "/bin/sh",
        "mksquashfs": str(real / "mksquashfs"),
        "bin": str(bin_dir),
        "appimagetool": str(bin_dir / ".appimagetool-wrapped"),
    }
    for script, name in (("mksquashfs.sh", "mksquashfs"), ("appimagetool.sh", "appimagetool")):
        text = (PKG / script).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace(f"@{key}@", value)
        assert "@" not in text.replace("$@", ""), f"{script}: a placeholder is left"
        (bin_dir / name).write_text(text, encoding="utf-8")
    for path in [*bin_dir.iterdir(), real / "mksquashfs"]:
        path.chmod(0o755)
    return bin_dir / "appimagetool"


def run_tool(tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    tool = install(tmp)
    return subprocess.run(
        [str(tool), "AppDir", str(tmp / "out.AppImage")],
        cwd=tmp,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp), "FAKE_MKSQUASHFS_SAYS": "hello", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_failed_mksquashfs_fails_the_tool(tmp_path: Path) -> None:
    proc = run_tool(tmp_path, FAKE_MKSQUASHFS_STATUS="1", FAKE_MKSQUASHFS_SAYS="No space left on device")
    assert proc.returncode == 1
    assert proc.stderr == (
        "mksquashfs: No space left on device\n"
        "appimagetool: mksquashfs failed (its messages are above); no AppImage was made\n"
    )
    # The note is gone: nothing is left in TMPDIR.
    assert not list(tmp_path.glob("appimagetool-mksquashfs.*"))


def test_success_is_success(tmp_path: Path) -> None:
    proc = run_tool(tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "mksquashfs: hello\n")
    assert (tmp_path / "out.AppImage").read_text(encoding="utf-8") == "runtime\n"
    assert not list(tmp_path.glob("appimagetool-mksquashfs.*"))


def test_the_tools_own_failure_is_passed_on(tmp_path: Path) -> None:
    assert run_tool(tmp_path, FAKE_APPIMAGETOOL_STATUS="3").returncode == 3


def test_package_installs_these_scripts() -> None:
    text = (PKG / "package.nix").read_text(encoding="utf-8")
    assert 'substitute ${./mksquashfs.sh} "$out/bin/mksquashfs"' in text
    assert 'substitute ${./appimagetool.sh} "$out/bin/appimagetool"' in text
