"""The model's new fields and the loader's guarantees that a case file cannot express."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cryptic_net import certs, cli
from cryptic_net.errors import ValidationFailed
from cryptic_net.inventory import load_inventory
from tests.conftest import REPO


def messages(root: Path) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        load_inventory(root)
    return [str(d) for d in caught.value.diagnostics]


def test_defaults_of_the_example() -> None:
    inv = load_inventory(REPO)
    assert inv.network.cas == (REPO / "ca.crt",)
    assert inv.network.ca == REPO / "ca.crt"
    # issue 14: every host listens on the network's port unless it asks for another.
    assert {h.name: h.listen_port for h in inv.hosts} == {"alpha": 4242, "beta": 4242, "lighthouse": 4242}
    assert {h.arch for h in inv.hosts} == {"x86_64"}


def test_listen_port_zero_and_arch_when_asked(inventory: Path) -> None:
    with (inventory / "hosts" / "alpha.yml").open("a") as f:
        f.write("listen_port: 0\narch: aarch64\n")
    alpha = load_inventory(inventory).host("alpha")
    assert (alpha.listen_port, alpha.arch) == (0, "aarch64")


def test_arch_is_one_of_two(inventory: Path) -> None:
    with (inventory / "hosts" / "alpha.yml").open("a") as f:
        f.write("arch: riscv64\n")
    assert messages(inventory) == [
        "hosts/alpha.yml:11:7: $.arch: 'riscv64' is not one of ['x86_64', 'aarch64']"
    ]


def test_ca_bundle_trusts_the_next_ca(inventory: Path, other_ca: Path) -> None:
    """Rotation: network.yml lists the current and the next CA; a host signed by either is valid."""
    (inventory / "next.crt").write_bytes((other_ca / "ca.crt").read_bytes())
    (inventory / "hosts" / "alpha.crt").unlink()
    certs.sign(
        other_ca / "ca.crt", other_ca / "ca.key", "alpha", "10.42.0.2/24", ["laptop", "admin"],
        inventory / "hosts" / "alpha.crt", out_key=other_ca / "alpha.key",
    )  # fmt: skip
    assert messages(inventory) == [
        "hosts/alpha.yml:5:7: $.cert: hosts/alpha.crt is not signed by the network CA (ca.crt)"
    ]
    text = (inventory / "network.yml").read_text().replace("ca: ca.crt", "ca: [ca.crt, next.crt]")
    (inventory / "network.yml").write_text(text)
    inv = load_inventory(inventory)
    assert inv.network.cas == (inventory / "ca.crt", inventory / "next.crt")
    assert inv.network.ca == inventory / "ca.crt"
    text = (inventory / "network.yml").read_text().replace("ca: [ca.crt, next.crt]", "ca: [next.crt]")
    (inventory / "network.yml").write_text(text)
    assert (
        "hosts/beta.yml:5:7: $.cert: hosts/beta.crt is not signed by the network CA (next.crt)"
        in messages(inventory)
    )


def test_ca_list_must_not_be_empty(inventory: Path) -> None:
    text = (inventory / "network.yml").read_text().replace("ca: ca.crt", "ca: []")
    (inventory / "network.yml").write_text(text)
    assert messages(inventory) == ["network.yml:7:5: $.ca: must be a path or a non-empty list of paths"]


def test_host_file_name_with_a_newline(inventory: Path) -> None:
    """Issue 11: `x\\n.yml` passed the file-name check (`$` matched before the newline)."""
    (inventory / "hosts" / "x\n.yml").write_text("ip: 10.42.0.9\n")
    assert messages(inventory) == [
        (
            "hosts/x\\n.yml:1:1: $: host name 'x\\n' (the file name) must be lowercase letters, digits and "
            "hyphens, start with a letter, not end with a hyphen, at most 63 characters"
        )
    ]


@pytest.mark.parametrize("value", ["a" * 300, "x/" * 2100])
def test_hostile_ca_paths_are_located_errors(inventory: Path, value: str) -> None:
    """Issue 11 #8: an OSError from a path the inventory names is a located error."""
    text = (inventory / "network.yml").read_text().replace("ca: ca.crt", f"ca: {value[:4096]}")
    (inventory / "network.yml").write_text(text)
    got = messages(inventory)
    assert len(got) == 1
    assert got[0].startswith("network.yml:7:5: $.ca: ")


def test_scan_reads_whole_files(inventory: Path) -> None:
    """No silent limit: a CA key after 100 KiB of padding in appdir/ is found."""
    banner = "-----BEGIN NEBULA " + "ED25519 PRIVATE KEY-----"
    (inventory / "appdir" / "notes.txt").write_text("#\n" * 60_000 + banner + "\n")
    assert messages(inventory) == [
        (
            "appdir/notes.txt:60001:1: $: a nebula CA private key must not be in the inventory: "
            "move it somewhere safe, outside this tree"
        )
    ]


def test_scan_refuses_what_it_cannot_read(inventory: Path) -> None:
    os.mkfifo(inventory / "hosts" / "pipe.key")
    assert messages(inventory) == ["hosts/pipe.key:1:1: $: not a regular file (the build copies only files)"]


def test_scan_skips_files_outside_the_source_set(inventory: Path) -> None:
    banner = "-----BEGIN NEBULA " + "ED25519 PRIVATE KEY-----"
    (inventory / "hosts" / "README.txt").write_text(banner)
    assert load_inventory(inventory).hosts


def test_pattern_matches_the_whole_string() -> None:
    from cryptic_net.inventory import _validator  # noqa: PLC0415 (the schema engine itself)

    validator = _validator("network.schema.json")
    good = {"name": "example", "cidr": "10.42.0.0/24", "ca": "ca.crt"}
    assert list(validator.iter_errors(good)) == []
    assert [list(e.path) for e in validator.iter_errors({**good, "name": "example\n"})] == [["name"]]


def test_upstreams_reach_dnsmasq_as_written(inventory: Path, tmp_path: Path) -> None:
    text = (
        (inventory / "network.yml")
        .read_text()
        .replace("defaults:\n", "defaults:\n  dns_upstreams: [192.0.2.53, '2001:db8::53#5353']\n")
    )
    (inventory / "network.yml").write_text(text)
    assert cli.main(["render", "alpha", "--root", str(inventory), "--out", str(tmp_path / "o")]) == 0
    conf = next((tmp_path / "o").rglob("dnsmasq.conf")).read_text()
    assert [line for line in conf.splitlines() if line.startswith("server=")] == [
        "server=192.0.2.53",
        "server=2001:db8::53#5353",
    ]


def test_ca_bundle_in_one_file(inventory: Path, other_ca: Path) -> None:
    """A PEM bundle (current CA, then the next) in one `ca` file: both are trusted."""
    with (inventory / "ca.crt").open("ab") as f:
        f.write((other_ca / "ca.crt").read_bytes())
    (inventory / "hosts" / "alpha.crt").unlink()
    certs.sign(
        other_ca / "ca.crt", other_ca / "ca.key", "alpha", "10.42.0.2/24", ["laptop", "admin"],
        inventory / "hosts" / "alpha.crt", out_key=other_ca / "alpha.key",
    )  # fmt: skip
    inv = load_inventory(inventory)
    assert inv.network.cas == (inventory / "ca.crt",)
    assert inv.host("alpha").cert == inventory / "hosts" / "alpha.crt"


def test_scan_refuses_a_directory_it_cannot_list(inventory: Path) -> None:
    sub = inventory / "hosts" / "more"
    sub.mkdir()
    (sub / "x.key").write_text("not a key\n")
    real = os.scandir

    def deny(path: object = ".") -> object:
        if Path(str(path)) == sub:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)  # type: ignore[arg-type]

    import unittest.mock  # noqa: PLC0415

    with unittest.mock.patch("os.scandir", deny):
        assert messages(inventory) == ["hosts/more:1:1: $: cannot be listed: Permission denied"]
