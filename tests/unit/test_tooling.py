"""init and new-host, as the README walks a new user through them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from cryptic_net import certs
from tests.conftest import cli

if TYPE_CHECKING:
    from pathlib import Path

CA_BANNER = b"NEBULA " + b"ED25519 PRIVATE KEY"


@pytest.fixture
def network(tmp_path: Path) -> tuple[Path, Path]:
    root, safe = tmp_path / "mynet", tmp_path / "safe"
    result = cli("init", "--root", root, "--name", "mynet", "--cidr", "10.77.0.0/24", "--ca-dir", safe)
    assert result.returncode == 0, result.stderr
    assert "warning: the CA private key is" in result.stderr
    return root, safe


def new_host(root: Path, safe: Path, *args: str) -> tuple[int, str, str]:
    result = cli("new-host", *args, "--root", root, "--ca-crt", root / "ca.crt", "--ca-key", safe / "ca.key")
    return result.returncode, result.stdout, result.stderr


def test_readme_walkthrough(network: tuple[Path, Path], tmp_path: Path) -> None:
    root, safe = network
    assert (safe / "ca.key").stat().st_mode & 0o777 == 0o600
    assert not list(root.rglob("ca.key"))
    rc, out, _ = new_host(root, safe, "lh", "--lighthouse", "198.51.100.7:4242", "--relay", "--bake-key")
    assert rc == 0
    assert out.startswith("added host lh (10.77.0.1)")
    rc, out, _ = new_host(root, safe, "laptop", "--groups", "admin,dev")
    assert rc == 0
    assert f"its private key is {safe / 'laptop.key'}: copy it to /var/lib/cryptic-net/mynet/host.key" in out
    rc, out, _ = new_host(root, safe, "server", "--groups", "web", "--bake-key", "--ip", "10.77.0.20")
    assert rc == 0
    validate = cli("validate", "--root", root)
    assert (validate.returncode, validate.stdout) == (0, "mynet: 3 hosts, no errors\n"), validate.stderr
    render = cli("render", "laptop", "--root", root, "--out", tmp_path / "out")
    assert render.returncode == 0, render.stderr
    nebula = (tmp_path / "out/etc/nebula/nebula.yml").read_text()
    assert "key: /var/lib/cryptic-net/mynet/host.key" in nebula
    assert not (tmp_path / "out/etc/nebula/host.key").exists()
    info = certs.cert_info(root / "hosts" / "laptop.crt")
    assert (info.name, info.networks, sorted(info.groups)) == ("laptop", ("10.77.0.2/24",), ["admin", "dev"])
    for path in root.rglob("*"):
        assert not path.is_file() or CA_BANNER not in path.read_bytes(), path


def test_first_host_without_lighthouse_says_what_is_missing(network: tuple[Path, Path]) -> None:
    root, safe = network
    rc, _, err = new_host(root, safe, "laptop")
    assert rc == 0
    assert err == (
        "note: the inventory does not validate yet:\n"
        "network.yml:2:1: $: no host is a lighthouse: give one host `lighthouse: {endpoints: [...]}`\n"
    )


def test_init_refuses_ca_inside_the_tree(tmp_path: Path) -> None:
    root = tmp_path / "net"
    result = cli("init", "--root", root, "--name", "n", "--cidr", "10.1.0.0/24", "--ca-dir", root / "ca")
    assert result.returncode == 2
    assert result.stderr == (
        f"cryptic-net: error: {root / 'ca'}: the CA directory must live outside the inventory ({root}), "
        "or it ends up in the Nix store\n"
    )
    assert not root.exists() or not any(root.iterdir())


def test_init_refuses_an_existing_network(network: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = network
    result = cli(
        "init", "--root", root, "--name", "x", "--cidr", "10.1.0.0/24", "--ca-dir", tmp_path / "other"
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == f"cryptic-net: error: {root / 'network.yml'}: already exists; this directory has a network\n"
    )
    assert not (tmp_path / "other").exists()


def test_init_rejects_bad_names_before_making_a_ca(tmp_path: Path) -> None:
    result = cli(
        "init",
        "--root",
        tmp_path / "n",
        "--name",
        "Bad_Name",
        "--cidr",
        "10.1.0.0/24",
        "--ca-dir",
        tmp_path / "ca",
    )
    assert result.returncode == 2
    assert "$.name: 'Bad_Name' is not a network name" in result.stderr
    assert not (tmp_path / "ca").exists()


def test_new_host_errors(network: tuple[Path, Path], other_ca: Path) -> None:
    root, safe = network
    assert new_host(root, safe, "lh", "--lighthouse", "198.51.100.7:4242")[0] == 0
    rc, _, err = new_host(root, safe, "dup", "--ip", "10.77.0.1")
    assert (rc, err) == (2, "cryptic-net: error: --ip: 10.77.0.1 is already used by lh\n")
    rc, _, err = new_host(root, safe, "lh")
    assert (rc, err) == (2, f"cryptic-net: error: {root / 'hosts' / 'lh.yml'}: already exists\n")
    rc, _, err = new_host(root, safe, "Upper")
    assert rc == 2
    assert "'Upper': a host name is lowercase letters" in err
    rc, _, err = new_host(root, safe, "far", "--ip", "10.78.0.1")
    assert (rc, err) == (2, "cryptic-net: error: --ip: 10.78.0.1 is not a host address of 10.77.0.0/24\n")
    result = cli(
        "new-host", "x", "--root", root, "--ca-crt", other_ca / "ca.crt", "--ca-key", other_ca / "ca.key"
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == f"cryptic-net: error: --ca-crt {other_ca / 'ca.crt'} is not the network CA ({root / 'ca.crt'})\n"
    )
    assert sorted(p.name for p in (root / "hosts").iterdir()) == ["lh.crt", "lh.yml"]


def renew(root: Path, safe: Path, name: str) -> tuple[int, str, str]:
    result = cli("renew", name, "--root", root, "--ca-crt", root / "ca.crt", "--ca-key", safe / "ca.key")
    return result.returncode, result.stdout, result.stderr


def test_renew_after_a_group_change_keeps_the_key(network: tuple[Path, Path]) -> None:
    root, safe = network
    assert new_host(root, safe, "lh", "--lighthouse", "198.51.100.7:4242", "--bake-key")[0] == 0
    assert new_host(root, safe, "laptop", "--groups", "admin")[0] == 0
    before = certs.cert_info(root / "hosts" / "laptop.crt")
    yml = root / "hosts" / "laptop.yml"
    yml.write_text(yml.read_text().replace("groups: [admin]", "groups: [admin, dev]"))
    validate = cli("validate", "--root", root)
    assert validate.returncode == 2
    assert "$.groups: certificate groups are [admin], the file says [admin, dev]" in validate.stderr
    key_before = (safe / "laptop.key").read_bytes()

    rc, out, err = renew(root, safe, "laptop")
    after = certs.cert_info(root / "hosts" / "laptop.crt")
    assert (rc, err) == (0, "")
    assert out == (
        f"renewed hosts/laptop.crt: 10.77.0.2/24, groups [admin, dev], "
        f"valid until {after.not_after.strftime('%Y-%m-%d')}; same key pair\n"
    )
    assert after.public_key == before.public_key
    assert after.fingerprint != before.fingerprint
    assert sorted(after.groups) == ["admin", "dev"]
    assert (safe / "laptop.key").read_bytes() == key_before
    assert cli("validate", "--root", root).returncode == 0


def test_renew_a_baked_key_host(network: tuple[Path, Path]) -> None:
    root, safe = network
    assert new_host(root, safe, "lh", "--lighthouse", "198.51.100.7:4242", "--bake-key")[0] == 0
    key = (root / "hosts" / "lh.key").read_bytes()
    before = certs.cert_info(root / "hosts" / "lh.crt")
    assert renew(root, safe, "lh")[0] == 0
    assert certs.cert_info(root / "hosts" / "lh.crt").public_key == before.public_key
    assert (root / "hosts" / "lh.key").read_bytes() == key


def test_renew_errors(network: tuple[Path, Path], other_ca: Path) -> None:
    root, safe = network
    assert new_host(root, safe, "lh", "--lighthouse", "198.51.100.7:4242")[0] == 0
    assert new_host(root, safe, "laptop")[0] == 0
    rc, _, err = renew(root, safe, "gamma")
    assert (rc, err) == (2, f"cryptic-net: error: {root / 'hosts' / 'gamma.yml'}: no such host file\n")
    yml = root / "hosts" / "laptop.yml"
    yml.write_text(yml.read_text().replace("cert: laptop.crt", "cert: lh.crt"))
    crt = (root / "hosts" / "lh.crt").read_bytes()
    rc, _, err = renew(root, safe, "laptop")
    assert rc == 2
    assert err == (
        f"cryptic-net: error: {root / 'hosts' / 'lh.crt'} is not laptop's certificate; "
        "make a new host instead\n"
    )
    assert (root / "hosts" / "lh.crt").read_bytes() == crt
    result = cli(
        "renew", "lh", "--root", root, "--ca-crt", other_ca / "ca.crt", "--ca-key", other_ca / "ca.key"
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == f"cryptic-net: error: --ca-crt {other_ca / 'ca.crt'} is not the network CA ({root / 'ca.crt'})\n"
    )
    assert (root / "hosts" / "lh.crt").read_bytes() == crt
