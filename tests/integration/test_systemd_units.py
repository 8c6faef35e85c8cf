"""The systemd units in contrib/systemd: valid, as tight as each run mode allows, scored.

systemd is not booted on the test machines, so the units are checked with `systemd-analyze`
(Debian's systemd package): `verify` on a copy whose program paths point at files that exist,
and `security --offline=yes`, whose exposure score docs/security.md records. That the units
really start nebula and dnsmasq is the NixOS VM check's job (nix/checks/vm.nix).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "contrib" / "systemd"
APPRUN = REPO / "appdir" / "AppRun"

# The exposure scores written in docs/security.md; a change to a unit that raises one fails
# here, and a change that lowers one should update the document.
SCORES = {"cryptic-net@.service": 2.7, "cryptic-net-extracted@.service": 2.3}


def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze missing (Debian: systemd)")
    return found


def directive(unit: str, key: str) -> list[str]:
    text = (UNITS / unit).read_text()
    return [m.group(1) for m in re.finditer(rf"^{key}=(.*)$", text, re.MULTILINE)]


@pytest.mark.parametrize("unit", sorted(SCORES))
def test_unit_verifies(unit: str, tmp_path: Path) -> None:
    # verify insists that ExecStart's program exists: point the paths into tmp_path.
    for name in ("usr/local/bin/cryptic-net-alpha", "opt/cryptic-net/alpha/AppRun"):
        program = tmp_path / name
        program.parent.mkdir(parents=True, exist_ok=True)
        program.write_text("#!/bin/sh\n")
        program.chmod(0o700)
    text = (UNITS / unit).read_text()
    text = text.replace("/usr/local/bin/", f"{tmp_path}/usr/local/bin/")
    text = text.replace("/opt/cryptic-net/", f"{tmp_path}/opt/cryptic-net/")
    copy = tmp_path / unit.replace("@", "@alpha")
    copy.write_text(text)
    r = subprocess.run(
        [analyze(), "verify", "--man=no", "--no-pager", str(copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    # Unknown or misspelt directives are only warnings: there must be none.
    assert r.stdout + r.stderr == "", r.stdout + r.stderr


@pytest.mark.parametrize(("unit", "score"), sorted(SCORES.items()))
def test_security_score(unit: str, score: float) -> None:
    r = subprocess.run(
        [analyze(), "security", "--offline=yes", "--no-pager", str(UNITS / unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= score, r.stdout
    doc = (REPO / "docs" / "security.md").read_text()
    assert f"`{unit}` | {score}" in doc


def test_capabilities_per_run_mode() -> None:
    fuse = directive("cryptic-net@.service", "CapabilityBoundingSet")
    extracted = directive("cryptic-net-extracted@.service", "CapabilityBoundingSet")
    assert fuse == ["CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_SYS_ADMIN"]
    # Without FUSE nothing mounts: no SYS_ADMIN, no /dev/fuse.
    assert extracted == ["CAP_NET_ADMIN CAP_NET_BIND_SERVICE"]
    assert directive("cryptic-net-extracted@.service", "DeviceAllow") == ["/dev/net/tun rw"]
    for unit in SCORES:
        assert directive(unit, "PrivateTmp") == ["yes"]
        assert directive(unit, "NoNewPrivileges") == ["yes"]
        assert directive(unit, "KillMode") == ["mixed"]


def test_every_apprun_error_status_prevents_a_restart() -> None:
    statuses = re.findall(r"^#\s+(\d+)\s", APPRUN.read_text(), re.MULTILINE)
    config_errors = {s for s in statuses if int(s) >= 2}
    assert config_errors == {str(n) for n in range(2, 12)}
    for unit in SCORES:
        assert set(directive(unit, "RestartPreventExitStatus")[0].split()) == config_errors
