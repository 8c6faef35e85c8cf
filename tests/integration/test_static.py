"""The flake's `static` check (nix/checks/static.sh), run offline on every AppImage built here.

With the shipped builds (tests/build-shipped) every ELF inside must have no interpreter and no
DT_NEEDED, and nothing may mention /nix/store. With installed (dynamically linked) fallbacks
the same script must catch exactly those: either way it is the script the Nix check runs.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest
from conftest import STATIC_CHECK, Build, Program, static_check

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.root, pytest.mark.integration]


def _report(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("host", ["lighthouse", "alpha", "beta"])
def test_every_appimage_is_static(host: str, builds: dict[str, Build], programs: dict[str, Program]) -> None:
    image = builds[host].appimage
    result = static_check(image)
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    checked = [line for line in result.stdout.splitlines() if line.startswith(("ok", "FAIL"))]
    # The image itself, and at least the four programs, the configs and AppRun inside it.
    inside = ("bin/nebula", "bin/nebula-cert", "bin/dnsmasq", "bin/pmux", "AppRun", "etc/nebula/nebula.yml")
    for rel in inside:
        assert any(line.endswith(f"!/{rel}") or f"!/{rel}:" in line for line in checked), (
            f"{rel} not checked:\n{_report(result)}"
        )
    not_shipped = {f"bin/{name}" for name, p in programs.items() if not p.shipped}
    if not not_shipped:
        assert result.returncode == 0, _report(result)
        assert not failed
    else:
        # Installed fallbacks are dynamically linked: the check must say so, for them only.
        assert result.returncode == 1, _report(result)
        named = {line.split("!/", 1)[1].split(":", 1)[0] for line in failed if "!/" in line}
        assert named, _report(result)
        assert named <= not_shipped, _report(result)


def test_check_catches_an_interpreter_needed_libraries_and_a_store_path(tmp_path: Path) -> None:
    appdir = tmp_path / "AppDir"
    (appdir / "bin").mkdir(parents=True)
    dynamic = shutil.which("ls")
    assert dynamic is not None
    shutil.copy(dynamic, appdir / "bin" / "dynamic")
    (appdir / "etc").mkdir()
    (appdir / "etc" / "conf").write_text("path = /nix/store/abc-foo/bin/foo\n")
    (appdir / "etc" / "fine").write_text("nothing to see\n")
    result = static_check(appdir)
    assert result.returncode == 1, _report(result)
    lines = result.stdout.splitlines()
    assert f"FAIL {appdir}/bin/dynamic: has an ELF interpreter (dynamically linked)" in lines
    assert any(
        line.startswith(f"FAIL {appdir}/bin/dynamic: needs shared libraries: ") and "libc.so.6" in line
        for line in lines
    ), _report(result)
    assert f"FAIL {appdir}/etc/conf: contains /nix/store/" in lines
    assert f"ok   {appdir}/etc/fine" in lines


def test_the_tests_runtime_is_dynamic_and_the_check_sees_it(builds: dict[str, Build]) -> None:
    """Without --runtime-may-be-dynamic the classic runtime (libfuse2) of the tests fails."""
    result = static_check(builds["alpha"].appimage, runtime_may_be_dynamic=False)
    assert result.returncode == 1
    assert f"FAIL {builds['alpha'].appimage}: needs shared libraries:" in result.stdout


def test_usage_errors() -> None:
    none = subprocess.run(["bash", str(STATIC_CHECK)], capture_output=True, text=True, check=False)
    assert none.returncode == 2
    assert "usage: static.sh" in none.stderr
    missing = subprocess.run(
        ["bash", str(STATIC_CHECK), "/nonexistent/cnt-x"], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2
    assert "no such file or directory: /nonexistent/cnt-x" in missing.stderr


def test_build_scripts_pass_shellcheck() -> None:
    repo = STATIC_CHECK.parents[2]
    scripts = [STATIC_CHECK, repo / "tests" / "build-shipped", repo / "tests" / "run"]
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck missing (tests/run installs it)")
    result = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
