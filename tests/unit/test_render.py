"""Rendered files of the example hosts against golden copies, and determinism.

Regenerate after an intended change with `UPDATE_GOLDEN=1 tests/run tests/unit/test_render.py`
and review the diff.
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

import pytest

from cryptic_net.inventory import load_inventory
from cryptic_net.render import CA_CERT, HOST_CERT, HOST_KEY, render_host, reverse_zones
from tests.conftest import HOSTS, REPO, cli

if TYPE_CHECKING:
    from pathlib import Path

GOLDEN = REPO / "tests" / "golden"
COPIED = {CA_CERT, HOST_CERT, HOST_KEY}  # byte copies of inventory files, not rendered text


@pytest.mark.parametrize("host", HOSTS)
def test_golden(host: str) -> None:
    files = render_host(load_inventory(REPO), host)
    rendered = {rel: f.content for rel, f in files.items() if rel not in COPIED}
    if os.environ.get("UPDATE_GOLDEN"):
        for rel, content in rendered.items():
            (GOLDEN / host / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / host / rel).write_bytes(content)
    expected = {
        str(p.relative_to(GOLDEN / host)): p.read_bytes() for p in (GOLDEN / host).rglob("*") if p.is_file()
    }
    assert rendered == expected


@pytest.mark.parametrize("host", HOSTS)
def test_copied_files_are_the_inventory_files(host: str) -> None:
    files = render_host(load_inventory(REPO), host)
    assert files[CA_CERT].content == (REPO / "ca.crt").read_bytes()
    assert files[HOST_CERT].content == (REPO / "hosts" / f"{host}.crt").read_bytes()
    assert files[HOST_KEY].content == (REPO / "hosts" / f"{host}.key").read_bytes()
    assert files[HOST_KEY].mode == 0o600


def test_render_cli_is_deterministic_and_complete(tmp_path: Path) -> None:
    outs = []
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        result = cli("render", "alpha", "--root", REPO, "--out", out)
        assert result.returncode == 0, result.stderr
        outs.append(
            {
                str(p.relative_to(out)): (p.is_file() and p.read_bytes(), p.stat().st_mode, p.stat().st_mtime)
                for p in out.rglob("*")
            }
        )
    assert outs[0] == outs[1]
    files = sorted(k for k in outs[0] if (tmp_path / "out1" / k).is_file())
    assert files == [
        "etc/cryptic-net/host.env",
        "etc/dnsmasq/dnsmasq.conf",
        "etc/dnsmasq/hosts",
        "etc/nebula/ca.crt",
        "etc/nebula/host.crt",
        "etc/nebula/host.key",
        "etc/nebula/nebula.yml",
        "etc/pmux.yml",
    ]


def test_render_replaces_its_own_earlier_output_but_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("render", "alpha", "--root", REPO, "--out", out).returncode == 0
    assert cli("render", "beta", "--root", REPO, "--out", out).returncode == 0
    assert "beta" in (out / "etc/cryptic-net/host.env").read_text()
    other = tmp_path / "precious"
    other.mkdir()
    (other / "data").write_text("keep")
    result = cli("render", "alpha", "--root", REPO, "--out", other)
    assert result.returncode == 2
    assert result.stderr == (
        f"cryptic-net: error: {other}: exists and is not an earlier cryptic-net output; choose a new --out\n"
    )
    assert (other / "data").read_text() == "keep"


def test_unknown_host_is_a_user_error(tmp_path: Path) -> None:
    result = cli("render", "gamma", "--root", REPO, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr == (
        f"cryptic-net: error: no host named 'gamma' in {REPO / 'hosts'} (hosts: alpha, beta, lighthouse)\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("cidr", "zones"),
    [
        ("10.42.0.0/24", ["0.42.10.in-addr.arpa"]),
        ("10.42.0.0/16", ["42.10.in-addr.arpa"]),
        ("10.42.0.0/23", ["0.42.10.in-addr.arpa", "1.42.10.in-addr.arpa"]),
        ("10.42.0.128/25", ["0.42.10.in-addr.arpa"]),
        ("10.0.0.0/8", ["10.in-addr.arpa"]),
    ],
)
def test_reverse_zones(cidr: str, zones: list[str]) -> None:
    import ipaddress  # noqa: PLC0415

    assert reverse_zones(ipaddress.IPv4Network(cidr)) == zones


@pytest.mark.nebula_compat
@pytest.mark.parametrize("host", HOSTS)
def test_real_nebula_and_dnsmasq_accept_the_rendered_configs(host: str, tmp_path: Path) -> None:
    """The nebula and dnsmasq on PATH: the shipped builds (tests/run), and in the compatibility
    run Debian's nebula (1.6 on Debian 12, 1.9 on Debian 13)."""
    out = tmp_path / "out"
    assert cli("render", host, "--root", REPO, "--out", out).returncode == 0
    nebula = subprocess.run(
        ["nebula", "-test", "-config", "etc/nebula/nebula.yml"],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert nebula.returncode == 0, nebula.stderr + nebula.stdout
    dnsmasq = subprocess.run(
        ["dnsmasq", "--test", "--conf-file=etc/dnsmasq/dnsmasq.conf"],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert dnsmasq.returncode == 0, dnsmasq.stderr
    assert "syntax check OK" in dnsmasq.stderr
