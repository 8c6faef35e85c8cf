"""Validation rules that need certificates or time, with their exact messages.

The rules that a single broken file shows are in the bad-input corpus (tests/bad/).
"""

from __future__ import annotations

import dataclasses
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from cryptic_net import certs
from cryptic_net.errors import ValidationFailed
from cryptic_net.inventory import load_inventory
from tests.conftest import REPO, cli

RENEW = "(`cryptic-net renew alpha` signs a new one)"


def messages(root: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        load_inventory(root, **kwargs)  # type: ignore[arg-type]
    return [str(d) for d in caught.value.diagnostics]


def example_not_after(host: str) -> certs.CertInfo:
    return certs.cert_info(REPO / "hosts" / f"{host}.crt")


def test_example_inventory_is_valid() -> None:
    inv = load_inventory(REPO)
    assert [h.name for h in inv.hosts] == ["alpha", "beta", "lighthouse"]
    assert inv.warnings == ()


def test_example_certificates_last_ten_years() -> None:
    ca = certs.cert_info(REPO / "ca.crt")
    for host in ("lighthouse", "alpha", "beta"):
        info = example_not_after(host)
        assert info.not_after - info.not_before >= timedelta(days=3652)
        assert info.not_after <= ca.not_after


def test_expired_certificates(inventory: Path) -> None:
    later = example_not_after("alpha").not_after + timedelta(days=1)
    stamp = example_not_after("alpha").not_after.strftime("%Y-%m-%d %H:%M UTC")
    got = messages(inventory, now=later)
    assert f"hosts/alpha.yml:5:7: $.cert: certificate expired on {stamp} {RENEW}" in got
    assert len([m for m in got if "certificate expired" in m]) == 3


def test_expiring_soon_is_a_warning(inventory: Path) -> None:
    info = example_not_after("alpha")
    inv = load_inventory(inventory, now=info.not_after - timedelta(days=10))
    stamp = info.not_after.strftime("%Y-%m-%d %H:%M UTC")
    assert (
        f"hosts/alpha.yml:5:7: warning: $.cert: certificate expires on {stamp}, within 30 days {RENEW}"
        in map(str, inv.warnings)
    )


def test_not_yet_valid(inventory: Path) -> None:
    earlier = example_not_after("alpha").not_before - timedelta(days=1)
    assert (
        "hosts/alpha.yml:5:7: $.cert: certificate is not valid yet (notBefore is in the future)"
        in messages(inventory, now=earlier)
    )


def test_expired_ca(inventory: Path) -> None:
    ca = certs.cert_info(inventory / "ca.crt")
    stamp = ca.not_after.strftime("%Y-%m-%d %H:%M UTC")
    got = messages(inventory, now=ca.not_after + timedelta(days=1))
    assert f"network.yml:7:5: $.ca: the network CA expired on {stamp}" in got


def test_certificate_outliving_the_ca(inventory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # nebula-cert refuses to sign such a certificate, so pretend it read one.
    real = certs.cert_info

    def fake(path: Path) -> certs.CertInfo:
        info = real(path)
        if path.name == "beta.crt":
            return dataclasses.replace(info, not_after=info.not_after + timedelta(days=365 * 30))
        return info

    monkeypatch.setattr(certs, "cert_info", fake)
    assert messages(inventory) == ["hosts/beta.yml:5:7: $.cert: certificate outlives the network CA"]


def test_certificate_of_another_ca(inventory: Path, other_ca: Path) -> None:
    other = other_ca
    (inventory / "hosts" / "alpha.crt").unlink()
    certs.sign(
        other / "ca.crt",
        other / "ca.key",
        "alpha",
        "10.42.0.2/24",
        ["laptop", "admin"],
        inventory / "hosts" / "alpha.crt",
        out_key=other / "alpha.key",
    )
    assert messages(inventory) == [
        "hosts/alpha.yml:5:7: $.cert: hosts/alpha.crt is not signed by the network CA (ca.crt)"
    ]


def test_validate_cli_reports_all_files_at_once(inventory: Path) -> None:
    (inventory / "hosts" / "alpha.yml").write_text("ip: 10.42.0.2\ngroups: [laptop, admin]\nbogus: 1\n")
    (inventory / "hosts" / "beta.yml").write_text("ip: 10.42.9.3\ngroups: [server]\n")
    result = cli("validate", "--root", inventory)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "hosts/alpha.yml:3:1: $.bogus: unknown key (expected one of: aliases, arch, cert, firewall, groups, "
        "ip, key, lighthouse, lighthouses, listen_port, mtu, relay, relays)\n"
        "hosts/beta.yml:1:5: $.ip: 10.42.9.3 is outside the network 10.42.0.0/24\n"
        "2 errors\n"
    )


def test_validate_cli_success(inventory: Path) -> None:
    result = cli("validate", "--root", inventory)
    assert (result.returncode, result.stdout, result.stderr) == (0, "example: 3 hosts, no errors\n", "")


def test_missing_inventory(tmp_path: Path) -> None:
    result = cli("validate", "--root", tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"cryptic-net: error: {tmp_path}/network.yml: not found "
        f"(is {tmp_path} an inventory? `cryptic-net init` makes one)\n"
    )


def test_validate_needs_no_nebula_cert(inventory: Path) -> None:
    # Certificates are read and verified in-process (cryptic_net.nebcert); only signing runs nebula-cert.
    result = subprocess.run(
        [str(Path(__import__("sys").executable)), "-m", "cryptic_net", "validate", "--root", str(inventory)],
        capture_output=True,
        text=True,
        env={"PATH": "/nonexistent"},
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_missing_nebula_cert_is_a_user_error(tmp_path: Path) -> None:
    args = [
        "init",
        "--root",
        tmp_path / "inv",
        "--name",
        "n",
        "--cidr",
        "10.1.0.0/24",
        "--ca-dir",
        tmp_path / "ca",
    ]
    result = subprocess.run(
        [str(Path(__import__("sys").executable)), "-m", "cryptic_net", *map(str, args)],
        capture_output=True,
        text=True,
        env={"PATH": "/nonexistent"},
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "cryptic-net: error: nebula-cert is not on PATH: install nebula (Debian: apt install nebula) "
        "or use `nix develop`\n"
    )
