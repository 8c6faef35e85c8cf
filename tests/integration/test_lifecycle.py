"""A network's life in network namespaces: revocation, CA rotation, an IPv6 underlay.

These tests run plain `nebula` processes (the one on PATH; tests/run puts nebula 1.10.3 first)
with configurations rendered by `cryptic-net render`, not AppImages: what they test is the
rendered nebula configuration (pki.blocklist, the CA bundle, listen.host) and the certificates
the commands sign, and a plain process starts in a fraction of a second. The AppImage around
the same files is tested by test_network.py.

Each test makes its own namespaces `cnt-lc-*` behind a bridge namespace of its own, while
holding the session's `lab` fixture (and with it `netns.exclusive()`), and removes them.
Underlay addresses are documentation ranges (198.51.100.0/24, 2001:db8:42::/64) that exist
only inside these namespaces.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import netns
import pytest
import yaml
from tests.conftest import cli

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.root, pytest.mark.integration]

BRIDGE = "cnt-lcbr"
NETWORK = "life"
TUN = f"cn-{NETWORK}"
CIDR = "10.88.0.0/24"
# Refused handshakes, as nebula logs them: 1.10 "certificate is in the block list",
# 1.6 "certificate has been blocked".
BLOCKED = re.compile(r"block list|been blocked")


def ns(host: str) -> str:
    return f"cnt-lc-{host}"


def in_ns(host: str, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return netns.run(["nsenter", f"--net=/run/netns/{ns(host)}", "--", *argv], check=False, timeout=timeout)


@dataclass
class Node:
    name: str
    v4: str | None
    v6: str | None
    overlay: str = ""
    config: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    logs: list[Path] = field(default_factory=list)


class Underlay:
    """A bridge namespace and one namespace per host, with IPv4, IPv6 or both on eth0."""

    def __init__(self, nodes: dict[str, Node]) -> None:
        self.nodes = nodes

    def up(self) -> None:
        self.down()
        addresses = {
            ns(node.name): [f"{node.v4}/24"] * bool(node.v4) + [f"{node.v6}/64"] * bool(node.v6)
            for node in self.nodes.values()
        }
        netns.wire(BRIDGE, addresses)

    def down(self) -> None:
        for node in self.nodes.values():
            stop(node)
        names = [ns(n) for n in self.nodes] + [BRIDGE]
        listed = netns.run(["ip", "netns", "list"], check=False).stdout
        for name in names:
            if re.search(rf"^{re.escape(name)}\b", listed, re.MULTILINE):
                netns.kill_all(name)
                netns.run(["ip", "netns", "del", name], check=False)


def start(node: Node, workdir: Path, tag: str) -> None:
    """nebula with the rendered config; pki paths are relative to the render directory."""
    assert node.config is not None
    nebula = shutil.which("nebula")
    assert nebula, "nebula is not on PATH"
    node.log = workdir / f"nebula-{node.name}-{tag}.log"
    node.logs.append(node.log)
    with node.log.open("wb") as out:
        node.proc = subprocess.Popen(
            [
                "nsenter",
                f"--net=/run/netns/{ns(node.name)}",
                "--",
                nebula,
                "-config",
                "etc/nebula/nebula.yml",
            ],
            cwd=node.config,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    netns.wait_until(
        f"{node.name}: tun {TUN} up",
        lambda: (
            node.proc is not None
            and node.proc.poll() is None
            and in_ns(node.name, "ip", "link", "show", TUN).returncode == 0
        ),
        timeout=15,
    )


def stop(node: Node) -> None:
    if node.proc is None or node.proc.poll() is not None:
        return
    node.proc.send_signal(signal.SIGTERM)
    try:
        node.proc.wait(5)
    except subprocess.TimeoutExpired:
        node.proc.kill()
        node.proc.wait(5)


def ping(src: Node, dst: Node) -> bool:
    return in_ns(src.name, "ping", "-c1", "-W1", "-n", dst.overlay, timeout=5).returncode == 0


def reaches(src: Node, dst: Node, timeout: float = 20) -> bool:
    netns.wait_until(
        f"{src.name} -> {dst.name} overlay ping", lambda: ping(src, dst), timeout=timeout, interval=0.2
    )
    return True


def never_reaches(src: Node, dst: Node, seconds: float) -> bool:
    """No ping gets through during `seconds` (bounded: one try per second at most)."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds) + 1):
        if ping(src, dst):
            return False
        if time.monotonic() >= deadline:
            break
    return True


def render(root: Path, node: Node, out: Path) -> None:
    result = cli("render", node.name, "--root", root, "--out", out)
    assert result.returncode == 0, result.stderr
    node.config = out


def make_network(
    tmp: Path, nodes: dict[str, Node], lighthouse: str, endpoints: list[str]
) -> tuple[Path, Path]:
    root, safe = tmp / "inv", tmp / "safe"
    result = cli("init", "--root", root, "--name", NETWORK, "--cidr", CIDR, "--ca-dir", safe, "--no-git-add")
    assert result.returncode == 0, result.stderr
    ca = ["--ca-crt", root / "ca.crt", "--ca-key", safe / "ca.key", "--bake-key", "--no-git-add"]
    lh = [a for e in endpoints for a in ("--lighthouse", e)]
    result = cli("new-host", lighthouse, *lh, "--relay", "--root", root, *ca)
    assert result.returncode == 0, result.stderr
    others = [n for n in nodes if n != lighthouse]
    result = cli("new-host", *others, "--root", root, *ca)
    assert result.returncode == 0, result.stderr
    for name, node in nodes.items():
        node.overlay = yaml.safe_load((root / "hosts" / f"{name}.yml").read_text())["ip"]
    return root, safe


@pytest.fixture
def workdir(tmp_path: Path, lab: netns.Lab) -> Path:
    """tmp_path, while the session's lab (and netns.exclusive()) is held."""
    del lab
    return tmp_path


@contextlib.contextmanager
def underlay(nodes: dict[str, Node]) -> Iterator[Underlay]:
    net = Underlay(nodes)
    try:
        net.up()
        yield net
    finally:
        net.down()


def log_text(node: Node) -> str:
    return "".join(log.read_text(errors="replace") for log in node.logs)


def log_tail(node: Node) -> str:
    return "\n".join(node.log.read_text(errors="replace").splitlines()[-20:]) if node.log else ""


def test_a_revoked_host_reaches_no_peer_once_the_peers_are_rebuilt(workdir: Path) -> None:
    nodes = {
        "lh": Node("lh", "198.51.100.1", None),
        "alpha": Node("alpha", "198.51.100.2", None),
        "beta": Node("beta", "198.51.100.3", None),
        "lost": Node("lost", "198.51.100.4", None),
    }
    root, safe = make_network(workdir, nodes, "lh", ["198.51.100.1:4242"])
    for name, node in nodes.items():
        render(root, node, workdir / f"old-{name}")
    with underlay(nodes):
        for node in nodes.values():
            start(node, workdir, "old")
        # Before: the laptop that will be lost reaches everyone (so what follows is the revocation).
        assert reaches(nodes["lost"], nodes["alpha"])
        assert reaches(nodes["alpha"], nodes["beta"])
        assert ping(nodes["lost"], nodes["lh"])

        result = cli("revoke", "lost", "--reason", "stolen", "--root", root, "--no-git-add")
        assert result.returncode == 0, result.stderr
        blocklist = yaml.safe_load((root / "revoked.yml").read_text())["revoked"][0]["fingerprint"]
        for name in ("lh", "alpha", "beta"):
            render(root, nodes[name], workdir / f"new-{name}")
            conf = yaml.safe_load((workdir / f"new-{name}/etc/nebula/nebula.yml").read_text())
            assert conf["pki"]["blocklist"] == [blocklist]
            stop(nodes[name])
            start(nodes[name], workdir, "new")
        # The lost host still runs its old configuration and certificate.
        assert nodes["lost"].proc is not None
        assert nodes["lost"].proc.poll() is None

        assert reaches(nodes["alpha"], nodes["beta"]), log_tail(nodes["alpha"])
        assert reaches(nodes["beta"], nodes["lh"])
        for peer in ("lh", "alpha", "beta"):
            assert never_reaches(nodes["lost"], nodes[peer], 6), f"revoked host reached {peer}"
        assert never_reaches(nodes["alpha"], nodes["lost"], 3)
        refused = [n for n in ("lh", "alpha", "beta") if BLOCKED.search(log_text(nodes[n]))]
        assert refused, "no peer logged a refused (blocklisted) certificate"
        assert reaches(nodes["alpha"], nodes["beta"])
    del safe


def test_ipv6_underlay_and_a_dual_stack_lighthouse(workdir: Path) -> None:
    """An IPv6 lighthouse endpoint makes every host listen on `::`, which takes both families."""
    nodes = {
        "lh": Node("lh", "198.51.100.1", "2001:db8:42::1"),
        "six": Node("six", None, "2001:db8:42::2"),
        "sixb": Node("sixb", None, "2001:db8:42::3"),
        "four": Node("four", "198.51.100.4", None),
    }
    root, _ = make_network(workdir, nodes, "lh", ["[2001:db8:42::1]:4242", "198.51.100.1:4242"])
    for name, node in nodes.items():
        render(root, node, workdir / name)
        conf = yaml.safe_load((workdir / name / "etc/nebula/nebula.yml").read_text())
        assert conf["listen"]["host"] == "::"
    with underlay(nodes):
        for node in nodes.values():
            start(node, workdir, "v6")
        assert reaches(nodes["six"], nodes["lh"]), log_tail(nodes["six"])
        assert reaches(nodes["four"], nodes["lh"]), log_tail(nodes["four"])
        # Two IPv6-only hosts find each other through the lighthouse and talk directly.
        assert reaches(nodes["six"], nodes["sixb"]), log_tail(nodes["six"])
        listening = in_ns("lh", "ss", "-Hlun").stdout
        assert re.search(r"\[::\]:4242|\*:4242", listening), listening


def test_hosts_of_the_old_and_the_new_ca_reach_each_other_during_rotation(workdir: Path) -> None:
    nodes = {
        "lh": Node("lh", "198.51.100.1", None),
        "old": Node("old", "198.51.100.2", None),
        "moved": Node("moved", "198.51.100.3", None),
        "fresh": Node("fresh", "198.51.100.4", None),
    }
    root, safe = make_network(
        workdir, {n: nodes[n] for n in ("lh", "old", "moved")}, "lh", ["198.51.100.1:4242"]
    )
    safe2 = workdir / "safe2"
    result = cli("ca-add", "--root", root, "--ca-dir", safe2, "--out", "ca-next.crt", "--no-git-add")
    assert result.returncode == 0, result.stderr
    new_ca = ["--ca-crt", root / "ca-next.crt", "--ca-key", safe2 / "ca.key", "--no-git-add"]
    result = cli("new-host", "fresh", "--bake-key", "--root", root, *new_ca)
    assert result.returncode == 0, result.stderr
    nodes["fresh"].overlay = yaml.safe_load((root / "hosts/fresh.yml").read_text())["ip"]
    result = cli("renew", "moved", "--root", root, *new_ca)
    assert result.returncode == 0, result.stderr
    old_ca, next_ca = (certs_fp(root / n) for n in ("ca.crt", "ca-next.crt"))
    assert issuer(root / "hosts/old.crt") == old_ca
    assert issuer(root / "hosts/lh.crt") == old_ca
    assert issuer(root / "hosts/moved.crt") == next_ca
    assert issuer(root / "hosts/fresh.crt") == next_ca
    for name, node in nodes.items():
        render(root, node, workdir / f"mid-{name}")
        bundle = (workdir / f"mid-{name}/etc/nebula/ca.crt").read_bytes()
        assert bundle == (root / "ca.crt").read_bytes() + (root / "ca-next.crt").read_bytes()
    with underlay(nodes):
        for node in nodes.values():
            start(node, workdir, "mid")
        # Old-CA and new-CA hosts, both ways, through an old-CA lighthouse.
        assert reaches(nodes["old"], nodes["fresh"]), log_tail(nodes["old"])
        assert reaches(nodes["fresh"], nodes["old"]), log_tail(nodes["fresh"])
        assert reaches(nodes["moved"], nodes["old"]), log_tail(nodes["moved"])
        assert reaches(nodes["fresh"], nodes["lh"])

        # The last steps: every host on the new CA, the old CA dropped, everything rebuilt.
        result = cli("renew", "--all", "--root", root, *new_ca)
        assert result.returncode == 0, result.stderr
        result = cli("ca-drop", "ca.crt", "--root", root, "--no-git-add")
        assert result.returncode == 0, result.stderr
        assert not (root / "ca.crt").exists()
        for name, node in nodes.items():
            render(root, node, workdir / f"new-{name}")
            assert (workdir / f"new-{name}/etc/nebula/ca.crt").read_bytes() == (
                root / "ca-next.crt"
            ).read_bytes()
            stop(node)
        for node in nodes.values():
            start(node, workdir, "new")
        assert reaches(nodes["old"], nodes["fresh"]), log_tail(nodes["old"])
        assert reaches(nodes["moved"], nodes["lh"])
    del safe


def certs_fp(path: Path) -> str:
    from cryptic_net import certs  # noqa: PLC0415 (the package under test)

    return certs.cert_info(path).fingerprint


def issuer(path: Path) -> str:
    from cryptic_net import certs  # noqa: PLC0415 (the package under test)

    return certs.cert_info(path).issuer
