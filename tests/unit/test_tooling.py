"""The commands that change an inventory, as the README and docs/lifecycle.md walk a user through them.

Every test keeps keys out of the real home directory (`--key-dir` under tmp_path).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest
import yaml

from cryptic_net import certs, inventory, rotation, tooling
from cryptic_net.inventory import Inventory, schema_text
from tests.conftest import cli

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from cryptic_net.checks import Context
    from cryptic_net.errors import Diagnostic

CA_BANNER = b"NEBULA " + b"ED25519 PRIVATE KEY"


@pytest.fixture
def network(tmp_path: Path) -> tuple[Path, Path]:
    root, safe = tmp_path / "mynet", tmp_path / "safe"
    result = cli("init", "--root", root, "--name", "mynet", "--cidr", "10.77.0.0/24", "--ca-dir", safe)
    assert result.returncode == 0, result.stderr
    assert "warning: the CA private key is" in result.stderr
    return root, safe


def keys_of(root: Path) -> Path:
    return root.parent / "keys"


def run(command: str, root: Path, safe: Path, *args: str | Path) -> tuple[int, str, str]:
    extra: list[str | Path] = (
        [] if command == "remove" else ["--ca-crt", root / "ca.crt", "--ca-key", safe / "ca.key"]
    )
    if command in {"new-host", "sign"} or (command == "revoke" and "--new-key" in args):
        extra += ["--key-dir", keys_of(root)]
    result = cli(command, *args, "--root", root, *extra)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout, result.stderr


def new_host(root: Path, safe: Path, *args: str | Path) -> tuple[int, str, str]:
    return run("new-host", root, safe, *args)


def renew(root: Path, safe: Path, *args: str | Path) -> tuple[int, str, str]:
    return run("renew", root, safe, *args)


def snapshot(*dirs: Path) -> dict[str, bytes]:
    """Every file under `dirs`, with its bytes: 'nothing was written' is then an equality."""
    return {str(p): p.read_bytes() for d in dirs if d.exists() for p in sorted(d.rglob("*")) if p.is_file()}


def with_lighthouse(network: tuple[Path, Path]) -> tuple[Path, Path]:
    root, safe = network
    rc, _, err = new_host(root, safe, "lh", "--lighthouse", "198.51.100.7:4242", "--relay")
    assert rc == 0, err
    return root, safe


def test_readme_walkthrough(network: tuple[Path, Path], tmp_path: Path) -> None:
    root, safe = network
    assert (safe / "ca.key").stat().st_mode & 0o777 == 0o600
    assert not list(root.rglob("ca.key"))
    rc, out, _ = new_host(root, safe, "lh", "--lighthouse", "198.51.100.7:4242", "--relay", "--bake-key")
    assert rc == 0
    assert out.startswith("added host lh (10.77.0.1)")
    rc, out, _ = new_host(root, safe, "laptop", "--groups", "admin,dev")
    assert rc == 0
    key = keys_of(root) / "laptop.key"
    assert f"its private key is {key}: copy it to /var/lib/cryptic-net/mynet/host.key" in out
    assert key.stat().st_mode & 0o777 == 0o600
    assert keys_of(root).stat().st_mode & 0o777 == 0o700
    rc, out, _ = new_host(root, safe, "server", "--groups", "web", "--bake-key", "--ip", "10.77.0.20")
    assert rc == 0
    # Issue 10: a baked key is readable in the build machine's store and in any readable copy.
    assert "note: server's private key is baked into cryptic-net-server" in out
    assert "install -m 0700" in out
    validate = cli("validate", "--root", root)
    assert (validate.returncode, validate.stdout) == (0, "mynet: 3 hosts, no errors\n"), validate.stderr
    render = cli("render", "laptop", "--root", root, "--out", tmp_path / "out")
    assert render.returncode == 0, render.stderr
    nebula = yaml.safe_load((tmp_path / "out/etc/nebula/nebula.yml").read_text())
    assert nebula["pki"]["key"] == "/var/lib/cryptic-net/mynet/host.key"
    assert nebula["relay"]["relays"] == ["10.77.0.1"], "a host uses the network's relays by default"
    assert nebula["listen"]["host"] == "0.0.0.0"  # noqa: S104 (IPv4 endpoints only)
    assert not (tmp_path / "out/etc/nebula/host.key").exists()
    info = certs.cert_info(root / "hosts" / "laptop.crt")
    assert (info.name, info.networks, sorted(info.groups)) == ("laptop", ("10.77.0.2/24",), ["admin", "dev"])
    for path in root.rglob("*"):
        assert not path.is_file() or CA_BANNER not in path.read_bytes(), path
    # Nothing but the host's own files appeared in hosts/: no staging directories, no temp files.
    assert sorted(p.name for p in (root / "hosts").iterdir()) == [
        "laptop.crt",
        "laptop.yml",
        "lh.crt",
        "lh.key",
        "lh.yml",
        "server.crt",
        "server.key",
        "server.yml",
    ]


def test_schema_heads_work_in_a_clone(network: tuple[Path, Path], tmp_path: Path) -> None:
    """The `$schema` head is relative and its target is inside the inventory (issue 7 item 5)."""
    root, safe = with_lighthouse(network)
    clone = tmp_path / "elsewhere" / "clone"
    shutil.copytree(root, clone)
    for rel in ("network.yml", "hosts/lh.yml"):
        head = (clone / rel).read_text().splitlines()[0]
        assert head.startswith("# yaml-language-server: $schema=")
        ref = head.split("=", 1)[1]
        assert not ref.startswith("/"), ref
        target = ((clone / rel).parent / ref).resolve()
        assert target.is_relative_to(clone), target
        assert target.read_text() == schema_text(target.name)
    assert sorted(p.name for p in (clone / ".schema").iterdir()) == sorted(tooling.SCHEMAS)
    del safe


def test_first_host_must_be_a_lighthouse(network: tuple[Path, Path]) -> None:
    root, safe = network
    before = snapshot(root, keys_of(root))
    rc, _, err = new_host(root, safe, "laptop")
    assert rc == 2
    assert err == (
        "cryptic-net: error: the network has no lighthouse yet: make one first "
        "(`cryptic-net new-host NAME --lighthouse HOST:PORT`); hosts find each other through it\n"
    )
    assert snapshot(root, keys_of(root)) == before


def test_init_refuses_ca_inside_the_tree(tmp_path: Path) -> None:
    root = tmp_path / "net"
    result = cli("init", "--root", root, "--name", "n", "--cidr", "10.1.0.0/24", "--ca-dir", root / "ca")
    assert result.returncode == 2
    assert result.stderr == (
        f"cryptic-net: error: {root / 'ca'}: the CA directory must live outside the inventory ({root}), "
        "or it ends up in the Nix store\n"
    )
    assert not root.exists() or not any(root.iterdir())


def test_init_refuses_a_ca_dir_others_can_write(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    result = cli("init", "--root", tmp_path / "n", "--name", "n", "--cidr", "10.1.0.0/24", "--ca-dir", shared)
    assert result.returncode == 2
    assert result.stderr == (
        f"cryptic-net: error: {shared}: others can write to the CA directory (mode 0777), so they could "
        f"replace what is written there: chmod 700 {shared}, or choose another directory\n"
    )
    assert not any(shared.iterdir())
    assert not (tmp_path / "n").exists()


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


def test_a_ca_key_readable_by_others_gets_a_warning(network: tuple[Path, Path]) -> None:
    root, safe = network
    (safe / "ca.key").chmod(0o644)
    rc, _, err = new_host(root, safe, "lh", "--lighthouse", "198.51.100.7:4242")
    assert rc == 0
    assert (
        f"warning: {safe / 'ca.key'} can be read by others (mode 0644): whoever reads it can add hosts "
        f"to your network; chmod 600 {safe / 'ca.key'}\n"
    ) in err


def test_new_host_errors(network: tuple[Path, Path], other_ca: Path) -> None:
    root, safe = network
    assert new_host(root, safe, "lh", "--lighthouse", "198.51.100.7:4242")[0] == 0
    rc, _, err = new_host(root, safe, "dup", "--ip", "10.77.0.1")
    assert (rc, err) == (2, "cryptic-net: error: --ip: 10.77.0.1 is already used by lh\n")
    rc, _, err = new_host(root, safe, "lh")
    assert rc == 2
    assert err == (
        f"cryptic-net: error: {root / 'hosts' / 'lh.yml'}: already exists; nothing was changed "
        "(remove it first if it is a leftover)\n"
    )
    rc, _, err = new_host(root, safe, "Upper")
    assert rc == 2
    assert "'Upper': a host name is lowercase letters" in err
    rc, _, err = new_host(root, safe, "far", "--ip", "10.78.0.1")
    assert (rc, err) == (2, "cryptic-net: error: --ip: 10.78.0.1 is not a host address of 10.77.0.0/24\n")
    rc, _, err = new_host(root, safe, "a", "b", "--ip", "10.77.0.9")
    assert (rc, err) == (2, "cryptic-net: error: --ip applies to one host; give one name with it\n")
    rc, _, err = new_host(root, safe, "x", "--relays", "lh")
    assert (rc, err) == (
        2,
        "cryptic-net: error: --relays: 'lh' is not a relay of this network (relays: none yet)\n",
    )
    result = cli(
        "new-host", "x", "--root", root, "--ca-crt", other_ca / "ca.crt", "--ca-key", other_ca / "ca.key"
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == f"cryptic-net: error: --ca-crt {other_ca / 'ca.crt'} is not the network CA ({root / 'ca.crt'})\n"
    )
    assert sorted(p.name for p in (root / "hosts").iterdir()) == ["lh.crt", "lh.yml"]


@pytest.mark.parametrize("leftover", ["db.crt", "db.key"])
def test_new_host_never_overwrites_a_host_file(network: tuple[Path, Path], leftover: str) -> None:
    """Issue 11: new-host checked only NAME.yml and overwrote NAME.key / NAME.crt."""
    root, safe = with_lighthouse(network)
    (root / "hosts" / leftover).write_bytes(b"precious\n")
    before = snapshot(root, keys_of(root))
    rc, _, err = new_host(root, safe, "db", "--bake-key")
    assert rc == 2
    assert err == (
        f"cryptic-net: error: {root / 'hosts' / leftover}: already exists; nothing was changed "
        "(remove it first if it is a leftover)\n"
    )
    assert snapshot(root, keys_of(root)) == before


def test_commands_refuse_a_broken_inventory(network: tuple[Path, Path]) -> None:
    """Issue 8: with a tab in a host file, new-host gave its IP away and signed (exit 0)."""
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "web")[0] == 0
    web = root / "hosts" / "web.yml"
    web.write_text(web.read_text().replace("\n  path:", "\n\tpath:"))
    before = snapshot(root, keys_of(root))
    for command, args in (
        ("new-host", ["db1"]),
        ("renew", ["lh"]),
        ("sign", ["lh"]),
        ("remove", ["lh"]),
        ("revoke", ["lh", "--reason", "test"]),
    ):
        rc, out, err = run(command, root, safe, *args)
        assert rc == 2, (command, out, err)
        lines = err.splitlines()
        assert lines[0].startswith("cryptic-net: the inventory does not validate; fix it first"), command
        assert "Nothing was signed or written." in lines[0]
        assert [x for x in lines if not x.startswith("hosts/lh.yml")][1].startswith(
            "hosts/web.yml:5:1: $: not valid YAML"
        ), (command, lines)
        assert lines[-1] == "1 error"
        assert snapshot(root, keys_of(root)) == before, command


def test_renew_refuses_a_duplicate_address(network: tuple[Path, Path]) -> None:
    """Issue 8: after web's ip became another host's, renew signed the duplicate (exit 0)."""
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "web", "db")[0] == 0
    web = root / "hosts" / "web.yml"
    web.write_text(web.read_text().replace("ip: 10.77.0.2", "ip: 10.77.0.3"))
    before = snapshot(root, keys_of(root))
    rc, _, err = renew(root, safe, "web")
    assert rc == 2
    assert "hosts/web.yml:2:5: $.ip: 10.77.0.3 is already used by db (hosts/db.yml:2:5)" in err
    assert snapshot(root, keys_of(root)) == before


def test_several_hosts_at_once_cost_two_validations(
    network: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: one load before the change, one after, however many names."""
    root, safe = with_lighthouse(network)
    calls: list[str] = []
    real_load, real_context = inventory.load_inventory, inventory.context

    def load(path: Path, now: datetime | None = None) -> Inventory:
        calls.append("load_inventory")
        return real_load(path, now)

    def context(path: Path, now: datetime | None = None) -> tuple[Context, list[Diagnostic]]:
        calls.append("context")
        return real_context(path, now)

    # Every validation goes through one of these two (load_inventory builds on context).
    monkeypatch.setattr(tooling, "load_inventory", load)
    monkeypatch.setattr(tooling, "context", context)
    rc = tooling.new_host(
        tooling.NewHostOptions(
            root=root,
            names=("a", "b", "c", "d"),
            ip=None,
            groups=["web"],
            lighthouse=[],
            relay=False,
            relays=None,
            bake_key=False,
            key_path=None,
            key_out=None,
            key_dir=keys_of(root),
            ca_crt=root / "ca.crt",
            ca_key=safe / "ca.key",
            duration=None,
            git_add=False,
        )
    )
    assert rc == 0
    assert len(calls) == 2
    ips = {n: certs.cert_info(root / "hosts" / f"{n}.crt").networks for n in "abcd"}
    assert ips == {
        "a": ("10.77.0.2/24",),
        "b": ("10.77.0.3/24",),
        "c": ("10.77.0.4/24",),
        "d": ("10.77.0.5/24",),
    }
    calls.clear()
    rc = tooling.renew(
        tooling.RenewOptions(root, (), root / "ca.crt", safe / "ca.key", None, every=True, git_add=False)
    )
    assert rc == 0
    assert len(calls) == 2


def test_allocation_skips_every_address_a_host_file_may_hold(network: tuple[Path, Path]) -> None:
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "a")[0] == 0
    # A comment naming an address (a file being edited, a note): never handed out.
    a = root / "hosts" / "a.yml"
    a.write_text(a.read_text() + "# moving to 10.77.0.3 next week\n")
    rc, out, _ = new_host(root, safe, "b")
    assert rc == 0
    assert out.startswith("added host b (10.77.0.4)")


def test_a_leftover_key_does_not_block_recreating_a_host(network: tuple[Path, Path]) -> None:
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "laptop")[0] == 0
    old_key = (keys_of(root) / "laptop.key").read_bytes()
    rc, _, _ = run("remove", root, safe, "laptop")
    assert rc == 0
    rc, out, err = new_host(root, safe, "laptop")
    assert rc == 0, err
    asides = sorted(keys_of(root).glob("laptop.key.old-*"))
    assert len(asides) == 1
    assert asides[0].read_bytes() == old_key
    assert f"(an earlier key there was moved to {asides[0]})" in out
    assert (keys_of(root) / "laptop.key").read_bytes() != old_key


def test_the_key_directory_is_never_the_cas(network: tuple[Path, Path]) -> None:
    root, safe = with_lighthouse(network)
    result = cli(
        "new-host",
        "laptop",
        "--root",
        root,
        "--ca-crt",
        root / "ca.crt",
        "--ca-key",
        safe / "ca.key",
        "--key-dir",
        safe,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"cryptic-net: error: {safe}: the key directory must not be the CA's directory: host keys are "
        "copied around, the CA key never is (choose another --key-dir)\n"
    )
    assert not (root / "hosts" / "laptop.yml").exists()
    result = cli(
        "new-host",
        "laptop",
        "--root",
        root,
        "--ca-crt",
        root / "ca.crt",
        "--ca-key",
        safe / "ca.key",
        "--key-dir",
        root / "keys",
    )
    assert result.returncode == 2
    assert "the key directory must live outside the inventory" in result.stderr


def test_renew_after_a_group_change_keeps_the_key(network: tuple[Path, Path]) -> None:
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "laptop", "--groups", "admin")[0] == 0
    before = certs.cert_info(root / "hosts" / "laptop.crt")
    yml = root / "hosts" / "laptop.yml"
    yml.write_text(yml.read_text().replace("groups: [admin]", "groups: [admin, dev]"))
    validate = cli("validate", "--root", root)
    assert validate.returncode == 2
    assert "$.groups: certificate groups are [admin], the file says [admin, dev]" in validate.stderr
    key_before = (keys_of(root) / "laptop.key").read_bytes()

    rc, out, err = renew(root, safe, "laptop")
    after = certs.cert_info(root / "hosts" / "laptop.crt")
    assert (rc, err) == (0, "")
    assert out == (
        f"renewed hosts/laptop.crt: 10.77.0.2/24, groups [admin, dev], "
        f"valid until {after.not_after.strftime('%Y-%m-%d')}; same key pair\n"
    )
    assert after.public_key == before.public_key
    assert after.fingerprint != before.fingerprint
    assert (keys_of(root) / "laptop.key").read_bytes() == key_before
    assert cli("validate", "--root", root).returncode == 0


def test_renew_errors(network: tuple[Path, Path], other_ca: Path) -> None:
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "laptop")[0] == 0
    rc, _, err = renew(root, safe, "gamma")
    assert (rc, err) == (2, f"cryptic-net: error: {root / 'hosts' / 'gamma.yml'}: no such host file\n")
    crt = (root / "hosts" / "lh.crt").read_bytes()
    result = cli(
        "renew", "lh", "--root", root, "--ca-crt", other_ca / "ca.crt", "--ca-key", other_ca / "ca.key"
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == f"cryptic-net: error: --ca-crt {other_ca / 'ca.crt'} is not the network CA ({root / 'ca.crt'})\n"
    )
    assert (root / "hosts" / "lh.crt").read_bytes() == crt


def test_sign_a_hand_written_host(network: tuple[Path, Path]) -> None:
    """Issue 8: new-host refused (the YAML exists) and renew too (no certificate)."""
    root, safe = with_lighthouse(network)
    (root / "hosts" / "db.yml").write_text("ip: 10.77.0.30\ngroups: [db]\n")
    assert cli("validate", "--root", root).returncode == 2
    rc, out, err = run("sign", root, safe, "db")
    assert rc == 0, err
    assert out.startswith(f"signed a new key pair for db (10.77.0.30/24): {root / 'hosts' / 'db.crt'}\n")
    assert cli("validate", "--root", root).returncode == 0
    info = certs.cert_info(root / "hosts" / "db.crt")
    assert (info.networks, info.groups) == (("10.77.0.30/24",), ("db",))
    assert (keys_of(root) / "db.key").is_file()
    # A host with a valid certificate keeps it: sign is not renew.
    rc, _, err = run("sign", root, safe, "db")
    assert rc == 2
    assert "exists and is not revoked; `cryptic-net renew db` signs a new certificate" in err


def test_remove(network: tuple[Path, Path], tmp_path: Path) -> None:
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "laptop", "server", "--bake-key")[0] == 0
    rc, out, err = run("remove", root, safe, "server")
    assert rc == 0, err
    assert out.startswith("removed host server: hosts/server.yml, hosts/server.crt, hosts/server.key\n")
    assert "its certificate stays valid until" in err
    assert not list((root / "hosts").glob("server.*"))
    assert not list((root / "hosts").glob(".*"))
    assert cli("validate", "--root", root).stdout == "mynet: 2 hosts, no errors\n"
    # Removing the only lighthouse would leave an invalid inventory: undone, nothing changed.
    before = snapshot(root)
    rc, _, err = run("remove", root, safe, "lh")
    assert rc == 2
    assert err.splitlines()[0] == (
        "cryptic-net: the change would leave the inventory invalid, so it was undone; nothing was changed:"
    )
    assert (
        "network.yml:2:1: $: no host is a lighthouse: give one host `lighthouse: {endpoints: [...]}`" in err
    )
    assert snapshot(root) == before
    del tmp_path


def test_revoke_a_lost_laptop(network: tuple[Path, Path], tmp_path: Path) -> None:
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "laptop", "server")[0] == 0
    fp = certs.cert_info(root / "hosts" / "laptop.crt").fingerprint
    rc, out, err = run("revoke", root, safe, "laptop", "--reason", "lost on a train")
    assert rc == 0, err
    assert out.startswith(f"revoked laptop's certificate {fp} and removed its files (revoked.yml)\n")
    data = yaml.safe_load((root / "revoked.yml").read_text())
    assert data["revoked"] == [
        {
            "fingerprint": fp,
            "host": "laptop",
            "ip": "10.77.0.2",
            "date": data["revoked"][0]["date"],
            "reason": "lost on a train",
        }
    ]
    assert not list((root / "hosts").glob("laptop.*"))
    assert cli("validate", "--root", root).returncode == 0
    assert cli("render", "server", "--root", root, "--out", tmp_path / "out").returncode == 0
    nebula = yaml.safe_load((tmp_path / "out/etc/nebula/nebula.yml").read_text())
    assert nebula["pki"]["blocklist"] == [fp]
    # The revoked address is not handed out again.
    rc, out, _ = new_host(root, safe, "laptop")
    assert rc == 0
    assert out.startswith("added host laptop (10.77.0.4)")


def test_revoke_lists_every_certificate_of_a_bundle(network: tuple[Path, Path], tmp_path: Path) -> None:
    """A host file may hold a version-1 and a version-2 certificate of one key (docs/lifecycle.md);
    their fingerprints differ, and nebula checks each alone, so `revoke` lists both."""
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "laptop")[0] == 0
    crt = root / "hosts" / "laptop.crt"
    first = certs.cert_info(crt)
    pub = tmp_path / "laptop.pub"
    pub.write_bytes(first.public_key_pem())
    other = tmp_path / "other.crt"
    args = ["-version", str(3 - first.version), "-name", "laptop", "-networks", ",".join(first.networks)]
    args += ["-in-pub", str(pub), "-out-crt", str(other), "-ca-crt", str(root / "ca.crt")]
    signed = subprocess.run(
        [certs.nebula_cert(), "sign", *args, "-ca-key", str(safe / "ca.key")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert signed.returncode == 0, signed.stderr
    crt.write_bytes(crt.read_bytes() + other.read_bytes())
    bundle = [c.fingerprint for c in certs.read_certs(crt)]
    assert len(bundle) == 2
    assert bundle[0] == first.fingerprint
    rc, _, err = run("revoke", root, safe, "laptop", "--reason", "stolen")
    assert rc == 0, err
    data = yaml.safe_load((root / "revoked.yml").read_text())
    assert [r["fingerprint"] for r in data["revoked"]] == bundle
    assert cli("validate", "--root", root).returncode == 0


def test_revoke_new_key_keeps_the_host(network: tuple[Path, Path]) -> None:
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "laptop", "--groups", "admin")[0] == 0
    old = certs.cert_info(root / "hosts" / "laptop.crt")
    rc, out, err = run("revoke", root, safe, "laptop", "--reason", "key copied", "--new-key")
    assert rc == 0, err
    assert f"revoked laptop's certificate {old.fingerprint} (revoked.yml)" in out
    new = certs.cert_info(root / "hosts" / "laptop.crt")
    assert new.public_key != old.public_key
    assert (new.networks, new.groups) == (old.networks, old.groups)
    assert cli("validate", "--root", root).returncode == 0
    # renew never re-certifies a revoked key: the old certificate back in place is refused.
    assert len(list(keys_of(root).glob("laptop.key.old-*"))) == 1


def test_validate_refuses_a_revoked_certificate(network: tuple[Path, Path]) -> None:
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "laptop")[0] == 0
    fp = certs.cert_info(root / "hosts" / "laptop.crt").fingerprint
    rc, _, err = run("revoke", root, safe, "--fingerprint", fp, "--reason", "test")
    assert rc == 2
    assert err.splitlines()[0] == (
        "cryptic-net: the change would leave the inventory invalid, so it was undone; nothing was changed:"
    )
    assert "hosts/laptop.yml:3:7: $.cert: hosts/laptop.crt was revoked on" in err
    assert not (root / "revoked.yml").exists()


def test_git_tracks_what_the_commands_write(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.fail("git is needed (Debian: apt install git)")
    root, safe = tmp_path / "repo", tmp_path / "safe"
    root.mkdir()
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_SYSTEM": "/dev/null"}
    subprocess.run([git, "init", "-q", str(root)], check=True, env=env)
    result = cli("init", "--root", root, "--name", "g", "--cidr", "10.5.0.0/24", "--ca-dir", safe)
    assert result.returncode == 0, result.stderr
    assert "staged in git (a flake sees only tracked files): .schema/host.schema.json" in result.stdout
    rc, _, err = new_host(root, safe, "lh", "--lighthouse", "198.51.100.7:4242", "--bake-key")
    assert rc == 0
    # The files it writes are staged right after: no warning that they are not tracked yet.
    assert "not tracked" not in err
    rc, out, err = new_host(root, safe, "laptop", "--no-git-add")
    assert rc == 0
    assert (
        f"a flake sees only tracked files: git -C {root} add --all -- hosts/laptop.crt hosts/laptop.yml"
        in out
    )
    assert "not tracked" not in err  # said once, on stdout, with the command to run
    rc, out, _ = run("remove", root, safe, "laptop")  # never tracked: nothing to stage, no error
    assert rc == 0
    assert "git" not in out.replace("rebuild", "")
    tracked = subprocess.run(
        [git, "-C", str(root), "ls-files"], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    assert tracked == [
        ".schema/host.schema.json",
        ".schema/network.schema.json",
        ".schema/revoked.schema.json",
        "ca.crt",
        "hosts/lh.crt",
        "hosts/lh.key",
        "hosts/lh.yml",
        "network.yml",
    ]


@pytest.mark.parametrize(
    ("before", "paths", "after"),
    [
        (
            "name: n\nca: ca.crt\nlighthouse_port: 1\n",
            ["ca.crt", "b.crt"],
            "name: n\nca:\n  - ca.crt\n  - b.crt\nlighthouse_port: 1\n",
        ),
        (
            "name: n\nca:\n  - ca.crt\n  - b.crt\n\n# next\nx: 1\n",
            ["b.crt"],
            "name: n\nca: b.crt\n\n# next\nx: 1\n",
        ),
        ("ca:\n- a.crt\n- b.crt\nname: n\n", ["a.crt"], "ca: a.crt\nname: n\n"),
        (
            "name: n\nca: [a.crt, b.crt]  # both\n",
            ["a.crt", "b.crt", "c.crt"],
            "name: n\nca:\n  - a.crt\n  - b.crt\n  - c.crt\n",
        ),
    ],
)
def test_set_ca_changes_only_the_ca_lines(before: str, paths: list[str], after: str) -> None:
    assert rotation.set_ca(before, paths) == after


def test_validate_warns_about_untracked_files(tmp_path: Path) -> None:
    """Issue 7: a flake sees only tracked files; validate says which inventory files it would miss."""
    git = shutil.which("git")
    if git is None:
        pytest.fail("git is needed (Debian: apt install git)")
    root, safe = tmp_path / "repo", tmp_path / "safe"
    root.mkdir()
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_SYSTEM": "/dev/null"}
    subprocess.run([git, "init", "-q", str(root)], check=True, env=env)
    assert (
        cli("init", "--root", root, "--name", "g", "--cidr", "10.5.0.0/24", "--ca-dir", safe).returncode == 0
    )
    assert new_host(root, safe, "lh", "--lighthouse", "198.51.100.7:4242", "--no-git-add")[0] == 0
    result = cli("validate", "--root", root)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "hosts/lh.crt:1:1: warning: $: not tracked by git: a flake does not see it (`git add hosts/lh.crt`)",
        "hosts/lh.yml:1:1: warning: $: not tracked by git: a flake does not see it (`git add hosts/lh.yml`)",
    ]
    subprocess.run([git, "-C", str(root), "add", "hosts"], check=True, env=env)
    assert cli("validate", "--root", root).stderr == ""

    # A file a .gitignore names: `git add` alone refuses it, so the warning says -f.
    (root / ".gitignore").write_text("*.crt\n", encoding="utf-8")
    assert new_host(root, safe, "web", "--no-git-add")[0] == 0
    crt = "ignored by git (a .gitignore names it): a flake does not see it (`git add -f hosts/web.crt`)"
    yml = "not tracked by git: a flake does not see it (`git add hosts/web.yml`)"
    assert cli("validate", "--root", root).stderr.splitlines() == [
        f"hosts/web.crt:1:1: warning: $: {crt}",
        f"hosts/web.yml:1:1: warning: $: {yml}",
    ]

    # Many: one warning that counts them, not a line per file.
    names = [f"h{i:02d}" for i in range(5)]
    assert new_host(root, safe, *names, "--no-git-add")[0] == 0
    counted = (
        "12 inventory files are not tracked by git (6 of them named by a .gitignore: `git add -f` "
        "those), and a flake sees none of them: hosts/h00.crt, hosts/h00.yml, hosts/h01.crt and 9 more "
        "(`git add hosts/`)"
    )
    assert cli("validate", "--root", root).stderr.splitlines() == [
        f"hosts/h00.crt:1:1: warning: $: {counted}"
    ]


def test_create_exclusive_never_replaces(tmp_path: Path) -> None:
    target = tmp_path / "f"
    tooling.create_exclusive(target, b"one", 0o600)
    assert (target.read_bytes(), target.stat().st_mode & 0o777) == (b"one", 0o600)
    with pytest.raises(FileExistsError):
        tooling.create_exclusive(target, b"two")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FileExistsError):
        tooling.create_exclusive(tmp_path / "link", b"two")
    assert not (tmp_path / "elsewhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "link"]


def test_an_ipv6_endpoint_makes_every_host_listen_on_both_families(network: tuple[Path, Path]) -> None:
    root, safe = network
    assert new_host(root, safe, "lh", "--lighthouse", "[2001:db8::7]:4242", "--bake-key")[0] == 0
    assert new_host(root, safe, "laptop")[0] == 0
    out = root.parent / "out"
    assert cli("render", "laptop", "--root", root, "--out", out).returncode == 0
    nebula = yaml.safe_load((out / "etc/nebula/nebula.yml").read_text())
    assert nebula["listen"]["host"] == "::"
    assert nebula["static_host_map"] == {"10.77.0.1": ["[2001:db8::7]:4242"]}


def test_ca_rotation_commands(network: tuple[Path, Path], tmp_path: Path) -> None:
    root, safe = with_lighthouse(network)
    assert new_host(root, safe, "laptop")[0] == 0
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    result = cli("ca-add", "--root", root, "--ca-dir", shared)
    assert result.returncode == 2
    assert "others can write to the CA directory (mode 0777)" in result.stderr
    before = snapshot(root)
    result = cli("ca-add", "--root", root, "--ca-dir", tmp_path / "next", "--out", "ca-next.crt")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "next/ca.key").stat().st_mode & 0o777 == 0o600
    assert "ca:\n  - ca.crt\n  - ca-next.crt\n" in (root / "network.yml").read_text()
    assert cli("validate", "--root", root).returncode == 0
    # The old CA still signs laptop's and lh's certificates: dropping it is refused, undone.
    mid = snapshot(root)
    result = cli("ca-drop", "ca.crt", "--root", root)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "cryptic-net: the change would leave the inventory invalid, so it was undone; nothing was changed:"
    )
    assert "hosts/laptop.yml:" in result.stderr
    assert "is not signed by the network CA (ca-next.crt)" in result.stderr
    assert snapshot(root) == mid
    # Dropping the CA nobody uses yet is fine, and leaves the inventory as before ca-add.
    result = cli("ca-drop", "ca-next.crt", "--root", root)
    assert result.returncode == 0, result.stderr
    assert snapshot(root) == before
    result = cli("ca-drop", "ca.crt", "--root", root)
    assert result.returncode == 2
    assert result.stderr == "cryptic-net: error: ca.crt: the network's only CA; `ca-add` the next one first\n"
