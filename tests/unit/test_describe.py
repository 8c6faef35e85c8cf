"""`describe` and rendering from a description: same files as a full render, hostile input refused.

The description is written by our own `describe` inside a Nix build, but `appdir --description`
treats it like any other input: every value that reaches a config file is checked again for
what the inventory's schema allows, paths stay inside the root, and the files it names must be
the ones that were validated.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from cryptic_net.appdir import packaged_template
from cryptic_net.describe import describe, dumps, inventory_for_host
from cryptic_net.errors import UserError
from cryptic_net.inventory import load_inventory
from cryptic_net.render import render_host
from tests.conftest import HOSTS, REPO, cli

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@pytest.fixture(scope="module")
def description_data() -> dict[str, Any]:
    return json.loads(dumps(describe(load_inventory(REPO))))


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "network.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("host", HOSTS)
def test_same_files_as_a_full_render(tmp_path: Path, description_data: dict[str, Any], host: str) -> None:
    full = render_host(load_inventory(REPO), host)
    described = render_host(inventory_for_host(write(tmp_path, description_data), REPO, host), host)
    assert described == full


def test_deterministic_and_root_free(inventory: Path, tmp_path: Path) -> None:
    first = tmp_path / "a.json"
    second = tmp_path / "b" / "network.json"
    for out in (first, second):
        proc = cli("describe", "--root", inventory, "--out", out)
        assert proc.returncode == 0, proc.stderr
    assert first.read_bytes() == second.read_bytes()
    assert str(inventory) not in first.read_text(encoding="utf-8")
    assert first.read_bytes() == dumps(describe(load_inventory(REPO))).encode()


def test_content(description_data: dict[str, Any]) -> None:
    d = description_data
    assert d["cryptic-net-description"] == 1
    assert d["network"]["name"] == "example"
    assert [ca["path"] for ca in d["network"]["cas"]] == ["ca.crt"]
    assert [h["name"] for h in d["hosts"]] == ["alpha", "beta", "lighthouse"]
    alpha = d["hosts"][0]
    assert alpha["ip"] == "10.42.0.2"
    assert alpha["cert"]["path"] == "hosts/alpha.crt"
    assert alpha["key"]["file"]["path"] == "hosts/alpha.key"
    assert alpha["certificate"]["name"] == "alpha"
    assert alpha["certificate"]["networks"] == ["10.42.0.2/24"]
    assert alpha["certificate"]["issuer"] == d["network"]["cas"][0]["certificate"]["fingerprint"]
    assert alpha["arch"] == "x86_64"
    assert d["lighthouses"] == ["lighthouse"]
    assert d["relays"] == ["lighthouse"]
    assert d["groups"]["laptop"] == ["alpha"]


def test_a_change_to_one_host_leaves_the_others_files_alone(inventory: Path, tmp_path: Path) -> None:
    """Every host's build takes network.json, so any change rebuilds every host (docs/nix.md);
    a host whose files the change does not touch must render the same bytes, so its image comes
    out the same and need not be copied again."""

    def files(host: str) -> dict[str, Any]:
        out = tmp_path / "network.json"
        proc = cli("describe", "--root", inventory, "--out", out)
        assert proc.returncode == 0, proc.stderr
        return render_host(inventory_for_host(out, inventory, host), host)

    before = {host: files(host) for host in HOSTS}
    alpha = inventory / "hosts" / "alpha.yml"
    alpha.write_text(
        alpha.read_text().replace(
            "{port: 22, proto: tcp, group: admin}", "{port: 2222, proto: tcp, group: admin}"
        )
    )
    after = {host: files(host) for host in HOSTS}
    assert after["alpha"] != before["alpha"]
    assert {h: after[h] for h in HOSTS if h != "alpha"} == {h: before[h] for h in HOSTS if h != "alpha"}


def test_invalid_inventory_writes_nothing(inventory: Path, tmp_path: Path) -> None:
    (inventory / "hosts" / "beta.yml").write_text("ip: 10.42.0.2\n", encoding="utf-8")
    out = tmp_path / "network.json"
    proc = cli("describe", "--root", inventory, "--out", out)
    assert proc.returncode == 2
    assert "hosts/beta.yml:1:5: $.ip: 10.42.0.2 is already used by alpha" in proc.stderr
    assert not out.exists()


def set_path(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(data))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


# (where, value, message): one hostile value each; the message names the JSON path.
HOSTILE = [
    (("network", "domain"), "example.internal\nserver=1.2.3.4", "$.network.domain"),
    (("network", "name"), "ex ample", "$.network.name"),
    (("network", "cidr"), "10.42.0.0/33", "$.network.cidr"),
    (("network", "cas", 0, "path"), "../../etc/shadow", "$.network.cas[0].path"),
    (("network", "cas", 0, "path"), "/etc/shadow", "$.network.cas[0].path"),
    (("network", "cas"), [], "$.network.cas"),
    (("hosts", 0, "arch"), "sparc", "$.hosts[0].arch"),
    (("hosts", 0, "name"), "alpha\nx", "$.hosts[0].name"),
    (("hosts", 0, "ip"), "10.99.0.2", "$.hosts[0].ip"),
    (("hosts", 0, "groups"), ["admin'; rm -rf /"], "$.hosts[0].groups[0]"),
    (("hosts", 0, "aliases"), ["WWW"], "$.hosts[0].aliases[0]"),
    (("hosts", 0, "listen_port"), 70000, "$.hosts[0].listen_port"),
    (("hosts", 0, "relay"), "yes", "$.hosts[0].relay"),
    (("hosts", 0, "mtu"), True, "$.hosts[0].mtu"),
    (("hosts", 0, "key"), {"path": "relative/host.key"}, "$.hosts[0].key.path"),
    (("hosts", 0, "firewall", "inbound"), [{"port": 22, "evil": "x"}], "$.hosts[0].firewall.inbound[0].evil"),
    (
        ("hosts", 0, "firewall", "inbound"),
        [{"port": "22\n", "host": "any"}],
        "$.hosts[0].firewall.inbound[0].port",
    ),
    (("hosts", 0, "cert", "sha256"), "0" * 63, "$.hosts[0].cert.sha256"),
    # issue 11: a zone id is free text, and one with a newline injected lines into dnsmasq.conf
    (
        ("network", "dns_upstreams"),
        ["fe80::1%lo\nhost-record=alpha.example.internal,10.42.0.66"],
        "$.network.dns_upstreams[0]",
    ),
]


# Another host's values that reach this host's files (DNS names, addresses, lighthouse
# endpoints, the relay role): checked as strictly when beta is rendered. hosts[0] is alpha,
# hosts[2] the lighthouse.
HOSTILE_PEER = [
    (("hosts", 0, "name"), "alpha\nx", "$.hosts[0].name"),
    (("hosts", 0, "ip"), "10.99.0.2", "$.hosts[0].ip"),
    (("hosts", 0, "ip"), "10.42.0.2\n", "$.hosts[0].ip"),
    (("hosts", 0, "aliases"), ["www.evil"], "$.hosts[0].aliases[0]"),
    (("hosts", 0, "relay"), 1, "$.hosts[0].relay"),
    (("hosts", 2, "endpoints"), ["192.0.2.1:4242 # x"], "$.hosts[2].endpoints[0]"),
    (("hosts", 2), "lighthouse", "$.hosts[2]"),
    # beta's own list names hosts that are not in that role
    (("hosts", 1, "lighthouses"), ["alpha"], "$.hosts[1].lighthouses[0]"),
    (("hosts", 1, "relays"), ["gamma"], "$.hosts[1].relays[0]"),
    (("hosts", 1, "relays"), ["beta"], "$.hosts[1].relays[0]"),
]


# (rendered host, where, value, message)
CASES = [("alpha", *h) for h in HOSTILE] + [("beta", *h) for h in HOSTILE_PEER]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}:{c[3]}:{repr(c[2])[:12]}" for c in CASES])
def test_hostile_values_are_refused(
    tmp_path: Path, description_data: dict[str, Any], case: tuple[str, tuple[Any, ...], Any, str]
) -> None:
    host, where, value, at = case
    path = write(tmp_path, set_path(description_data, where, value))
    with pytest.raises(UserError, match=r"^" + re.escape(f"{path}: {at}")):
        inventory_for_host(path, REPO, host)


def test_only_a_peers_own_lines_are_read(tmp_path: Path, description_data: dict[str, Any]) -> None:
    """Rendering beta reads alpha as a peer: alpha's firewall, certificate and key reach no file
    of beta's, so they are not read (at 1,000 hosts reading them was most of a host's build)."""
    data = set_path(description_data, ("hosts", 0, "firewall"), "not read")
    data = set_path(data, ("hosts", 0, "cert"), None)
    path = write(tmp_path, data)
    inv = inventory_for_host(path, REPO, "beta")
    assert [h.name for h in inv.hosts] == ["beta"]
    assert [p.name for p in inv.peers] == ["alpha", "beta", "lighthouse"]
    assert render_host(inv, "beta") == render_host(load_inventory(REPO), "beta")
    with pytest.raises(UserError, match=re.escape(f"{path}: $.hosts[0].cert")):
        inventory_for_host(path, REPO, "alpha")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: {**d, "cryptic-net-description": 2}, "not a cryptic-net network description of format 1"),
        (lambda _d: [], "not a cryptic-net network description of format 1"),
        (lambda d: {**d, "hosts": d["hosts"] + d["hosts"][:1]}, "$.hosts: host names repeat"),
        (lambda d: {**d, "hosts": {}}, "$.hosts: expected a list"),
    ],
)
def test_malformed_descriptions(
    tmp_path: Path, description_data: dict[str, Any], mutate: Callable[[Any], Any], message: str
) -> None:
    path = write(tmp_path, mutate(description_data))
    with pytest.raises(UserError, match=re.escape(message)):
        inventory_for_host(path, REPO, "alpha")


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "network.json"
    path.write_text("{", encoding="utf-8")
    proc = cli("render", "alpha", "--root", REPO, "--description", path, "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"cryptic-net: error: {path}: not JSON: ")
    assert "Traceback" not in proc.stderr


def test_unknown_host(tmp_path: Path, description_data: dict[str, Any]) -> None:
    with pytest.raises(UserError, match="no host named 'gamma'"):
        inventory_for_host(write(tmp_path, description_data), REPO, "gamma")


def test_template_ships_with_the_glue(tmp_path: Path) -> None:
    """`appdir` needs no --template and no appdir/ beside the inventory."""
    template = packaged_template()
    assert {p.name for p in template.iterdir()} >= {"AppRun", "cryptic-net.desktop", "cryptic-net.png"}
    assert (template / "AppRun").read_bytes() == (REPO / "appdir" / "AppRun").read_bytes()
    bins = tmp_path / "bin"
    bins.mkdir()
    for name in ("nebula", "nebula-cert", "dnsmasq", "pmux"):
        (bins / name).write_text("#!/bin/sh\n", encoding="utf-8")
        (bins / name).chmod(0o755)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "AppDir"
    proc = cli("appdir", "alpha", "--root", REPO, "--bin-dir", bins, "--out", out, cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert (out / "AppRun").read_bytes() == (REPO / "appdir" / "AppRun").read_bytes()
    # Modes are the glue's to set, whatever the installed copy has (Nix keeps it 0644).
    assert (out / "AppRun").stat().st_mode & 0o777 == 0o755
    assert (out / "cryptic-net.desktop").stat().st_mode & 0o777 == 0o644


def test_revoked_certificates_reach_every_host(tmp_path: Path, description_data: dict[str, Any]) -> None:
    entry = {"fingerprint": "ab" * 32, "date": "2026-11-28", "reason": "lost", "host": "gone", "ip": ""}
    path = write(tmp_path, {**description_data, "revoked": [entry]})
    files = render_host(inventory_for_host(path, REPO, "alpha"), "alpha")
    assert "ab" * 32 in files["etc/nebula/nebula.yml"].content.decode()
    bad = write(tmp_path, {**description_data, "revoked": [{**entry, "fingerprint": "ab\nx"}]})
    with pytest.raises(UserError, match=re.escape("$.revoked[0].fingerprint")):
        inventory_for_host(bad, REPO, "alpha")


def test_upstreams_with_a_port_survive_the_description(inventory: Path, tmp_path: Path) -> None:
    """dnsmasq's `server=ADDR#PORT` form validates, so the per-host render takes it too."""
    network = inventory / "network.yml"
    network.write_text(
        network.read_text().replace(
            "defaults:\n", "defaults:\n  dns_upstreams: [192.0.2.53#5353, 2001:db8::53]\n"
        )
    )
    out = tmp_path / "network.json"
    proc = cli("describe", "--root", inventory, "--out", out)
    assert proc.returncode == 0, proc.stderr
    described = render_host(inventory_for_host(out, inventory, "alpha"), "alpha")
    assert described == render_host(load_inventory(inventory), "alpha")
    conf = described["etc/dnsmasq/dnsmasq.conf"].content.decode()
    assert "server=192.0.2.53#5353\n" in conf
    assert "server=2001:db8::53\n" in conf


def test_a_render_from_a_description_stays_light() -> None:
    """The Nix build starts the glue once per host: rendering from a description must not load
    the checks, the certificate reader or jsonschema (they doubled a host's time at 1,000 hosts)."""
    heavy = ("cryptic_net.checks", "cryptic_net.certs", "cryptic_net.nebcert", "cryptic_net.inventory")
    heavy += ("cryptic_net.yamlload", "cryptic_net.revocation")
    heavy += ("cryptography", "jsonschema", "google.protobuf")
    code = (
        "import sys\n"
        "import cryptic_net.cli, cryptic_net.appdir, cryptic_net.describe, cryptic_net.render\n"
        f"print(' '.join(sorted(m for m in sys.modules if m.startswith({heavy!r}))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.strip() == ""
