"""`reach` against the real nebula: generated firewalls, every pair probed, matrices compared.

hypothesis generates small networks (three or four hosts, groups, default and per-host rules
over host, group, groups, cidr, ca_name and ca_sha, every proto, ports, ranges, `any` and
`fragment`). Each one is signed with a test CA, rendered by our renderer and run as plain
nebula processes (the nebula on PATH) in namespaces of our own (`cnt-rx-*`, beside the
example network's). Every host then probes every other with tcp and udp on each probed port
and with one ping, and what got through must equal what `reach` predicts.

ICMP is probed in two rounds, A->B for every pair with A < B, then B->A: nebula's conntrack
keys ICMP without an id, so the first round opens the second's way back whenever A's
outbound let the ping out, and `reach` predicts exactly that (Reach.icmp_back_channel).
TCP and UDP probes use fresh source ports, so they cannot open anything for each other, and
every probed udp port has a listener (no ICMP port-unreachable is ever sent).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import netns
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cryptic_net import certs, checks, reach
from cryptic_net.errors import ValidationFailed
from cryptic_net.inventory import load_inventory
from cryptic_net.render import render_host

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from cryptic_net.inventory import Inventory

pytestmark = [pytest.mark.root, pytest.mark.integration]

PREFIX = netns.PREFIX + "rx-"  # our own namespaces, apart from the example network's
BRIDGE = PREFIX + "br"
NAMES = ("h0", "h1", "h2", "h3")
UNDERLAY = {name: f"198.51.100.{i + 1}" for i, name in enumerate(NAMES)}
OVERLAY = {name: f"10.77.0.{i + 1}" for i, name in enumerate(NAMES)}
NETWORK = "rx"
CA_NAME = "rx-test-ca"
GROUPS = ("a", "b", "c")
PORTS = (22, 80, 81)  # probed with tcp and udp
RULE_PORTS = ("any", 22, 80, "80-81", "81-90", "fragment")
EXAMPLES = int(os.environ.get("CRYPTIC_NET_REACH_EXAMPLES", "8"))
PROBE_TIMEOUT = 1.5

SERVER = r"""
import socket, sys, threading
def tcp(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.close()
def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", port))
    while True:
        data, peer = s.recvfrom(64); s.sendto(data, peer)
for p in map(int, sys.argv[1:]):
    threading.Thread(target=tcp, args=(p,), daemon=True).start()
    threading.Thread(target=udp, args=(p,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""

PROBER = r"""
import json, socket, sys, concurrent.futures as cf
timeout = float(sys.argv[1])
def probe(item):
    ip, proto, port = item
    try:
        if proto == "tcp":
            with socket.create_connection((ip, port), timeout=timeout):
                return True
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(timeout)
        with s:
            s.sendto(b"rx", (ip, port))
            return s.recvfrom(64)[0] == b"rx"
    except OSError:
        return False
items = json.loads(sys.argv[2])
with cf.ThreadPoolExecutor(len(items) or 1) as pool:
    print(json.dumps(list(pool.map(probe, [tuple(i) for i in items]))))
"""


def ns(host: str) -> str:
    return PREFIX + host


def in_ns(host: str, argv: list[str]) -> list[str]:
    return ["nsenter", f"--net={netns.NETNS_DIR / ns(host)}", "--", *argv]


@dataclass
class Lab:
    workdir: Path
    ca_crt: Path
    ca_key: Path
    servers: list[subprocess.Popen[bytes]]


def _teardown() -> None:
    names = [n.split()[0] for n in netns.run(["ip", "netns", "list"], check=False).stdout.splitlines() if n]
    for name in names:
        if name.startswith(PREFIX):
            netns.kill_all(name)
            netns.run(["ip", "netns", "del", name], check=False)


@pytest.fixture(scope="module")
def rx_lab(lab: netns.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Namespaces of our own; the session's `lab` fixture holds netns.exclusive() for us."""
    del lab  # only its lock is needed: the example network's namespaces are not used
    for tool in ("nebula", "nebula-cert", "ping", "nsenter"):
        assert shutil.which(tool), f"{tool} is not on PATH"
    _teardown()
    servers: list[subprocess.Popen[bytes]] = []
    try:
        netns.wire(BRIDGE, {ns(host): [f"{UNDERLAY[host]}/24"] for host in NAMES})
        for host in NAMES:
            server = subprocess.Popen(
                in_ns(host, [sys.executable, "-c", SERVER, *map(str, PORTS)]),
                stdout=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
            )
            servers.append(server)
            assert server.stdout is not None
            assert server.stdout.readline().strip() == b"ready"
        work = tmp_path_factory.mktemp("reach-differential")
        certs.make_ca(CA_NAME, "8760h", work / "ca.crt", work / "ca.key")
        yield Lab(work, work / "ca.crt", work / "ca.key", servers)
    finally:
        for server in servers:
            server.kill()
            server.wait(timeout=10)
        _teardown()


# --- generated networks ----------------------------------------------------------------


@st.composite
def networks(draw: st.DrawFn, ca_sha: str) -> dict[str, Any]:
    count = draw(st.integers(3, 4))
    names = list(NAMES[:count])
    groups = {h: draw(st.lists(st.sampled_from(GROUPS), unique=True, max_size=3)) for h in names}
    held = [g for g in groups.values() if g]

    def selector() -> dict[str, Any]:
        choices: list[st.SearchStrategy[dict[str, Any]]] = [
            st.just({"host": "any"}),
            st.sampled_from(names).map(lambda h: {"host": h}),
            st.sampled_from([f"{OVERLAY[h]}/32" for h in names] + ["10.77.0.0/30", "10.77.0.0/24"]).map(
                lambda c: {"cidr": c}
            ),
            st.sampled_from([CA_NAME, "another-ca"]).map(lambda n: {"ca_name": n}),
            st.sampled_from([ca_sha, "0" * 64]).map(lambda s: {"ca_sha": s}),
        ]
        if held:
            # Groups that exist (rule-unknown-group refuses others before any check of
            # ours), in any combination: also the ones no host holds all of.
            known = sorted({g for held_by in held for g in held_by})
            combo = st.lists(st.sampled_from(known), unique=True, min_size=1, max_size=3)
            choices += [
                combo.map(lambda g: {"group": g[0]} if len(g) == 1 else {"groups": sorted(g)}),
                st.tuples(st.sampled_from(names), combo).map(lambda t: {"host": t[0], "group": t[1][0]}),
                combo.map(lambda g: {"groups": sorted(g), "ca_name": CA_NAME}),
            ]
        return draw(st.one_of(choices))

    def rules(max_size: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(draw(st.integers(0, max_size))):
            rule: dict[str, Any] = {
                "port": draw(st.sampled_from(RULE_PORTS)),
                "proto": draw(st.sampled_from(["any", "tcp", "udp", "icmp"])),
            }
            rule.update(selector())
            out.append(rule)
        return out

    # Mostly an open outbound side, as in most networks (and the example's): otherwise
    # nearly every probe dies on the sender and the inbound rules are never put to the test.
    open_out = (
        [{"port": "any", "proto": "any", "host": "any"}] if draw(st.sampled_from([True, True, False])) else []
    )
    defaults = {"outbound": open_out + rules(1), "inbound": rules(2)}
    hosts = {h: {"groups": groups[h], "firewall": {"outbound": rules(2), "inbound": rules(4)}} for h in names}
    return {"defaults": defaults, "hosts": hosts}


def write_inventory(lab: Lab, spec: dict[str, Any], root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    (root / "hosts").mkdir(parents=True)
    shutil.copy2(lab.ca_crt, root / "ca.crt")
    network = {
        "name": NETWORK,
        "cidr": "10.77.0.0/24",
        "ca": "ca.crt",
        "defaults": {"firewall": spec["defaults"]},
    }
    (root / "network.yml").write_text(yaml.safe_dump(network))
    for i, (host, data) in enumerate(sorted(spec["hosts"].items())):
        doc: dict[str, Any] = {
            "ip": OVERLAY[host],
            "key": {"file": f"{host}.key"},
            "firewall": data["firewall"],
        }
        if data["groups"]:
            doc["groups"] = data["groups"]
        if i == 0:
            doc["lighthouse"] = {"endpoints": [f"{UNDERLAY[host]}:4242"]}
        (root / "hosts" / f"{host}.yml").write_text(yaml.safe_dump(doc))
        certs.sign(
            lab.ca_crt,
            lab.ca_key,
            host,
            f"{OVERLAY[host]}/24",
            list(data["groups"]),
            root / "hosts" / f"{host}.crt",
            out_key=root / "hosts" / f"{host}.key",
        )


# Rules `validate` refuses because nebula never matches them; the test runs them anyway,
# to show on the real nebula that it never does.
NEVER_MATCH = {"rule-icmp-port", "rule-groups-never-held"}


@contextlib.contextmanager
def accepting_never_matching_rules() -> Iterator[None]:
    kept = checks.CHECKS[:]
    checks.CHECKS[:] = [c for c in kept if c.id not in NEVER_MATCH]
    try:
        yield
    finally:
        checks.CHECKS[:] = kept


def load(root: Path) -> Inventory:
    with accepting_never_matching_rules():
        return load_inventory(root)


# --- running and probing ---------------------------------------------------------------


@contextlib.contextmanager
def running(root: Path, names: list[str]) -> Iterator[None]:
    inv = load(root)
    procs = []
    try:
        for host in names:
            hostdir = root / "run" / host
            for rel, file in render_host(inv, host).items():
                (hostdir / rel).parent.mkdir(parents=True, exist_ok=True)
                (hostdir / rel).write_bytes(file.content)
            log = (root / f"{host}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    in_ns(host, [shutil.which("nebula") or "nebula", "-config", "etc/nebula/nebula.yml"]),
                    cwd=hostdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        for host in names:
            netns.wait_until(
                f"{host}'s tun",
                lambda h=host: (
                    netns.run(["ip", "-n", ns(h), "link", "show", f"cn-{NETWORK}"], check=False).returncode
                    == 0
                ),
                timeout=15,
            )
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def probe_tcp_udp(names: list[str]) -> dict[tuple[str, str, str, int], bool]:
    items = {
        src: [
            (OVERLAY[dst], proto, port)
            for dst in names
            if dst != src
            for proto in ("tcp", "udp")
            for port in PORTS
        ]
        for src in names
    }
    procs = {
        src: subprocess.Popen(
            in_ns(src, [sys.executable, "-c", PROBER, str(PROBE_TIMEOUT), json.dumps(items[src])]),
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for src in names
    }
    seen = {}
    by_ip = {OVERLAY[h]: h for h in names}
    for src, proc in procs.items():
        out, _ = proc.communicate(timeout=30)
        for (ip, proto, port), ok in zip(items[src], json.loads(out), strict=True):
            seen[src, by_ip[ip], proto, port] = ok
    return seen


def ping_round(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    procs = {
        (src, dst): subprocess.Popen(
            in_ns(src, ["ping", "-c1", "-W1", "-n", OVERLAY[dst]]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        for src, dst in pairs
    }
    return {pair: proc.wait(timeout=10) == 0 for pair, proc in procs.items()}


def warm_up(names: list[str]) -> None:
    """A tunnel between every pair, so that no probe waits for a handshake.

    TCP to port 9 (nothing listens; nebula starts the handshake before its firewall looks at
    the packet): whether or not it gets through, it opens nothing for the probes."""
    items = [(OVERLAY[d], "tcp", 9) for d in names]
    procs = [
        subprocess.Popen(
            in_ns(
                src,
                [sys.executable, "-c", PROBER, "1", json.dumps([i for i in items if i[0] != OVERLAY[src]])],
            ),
            stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        for src in names
    ]
    for proc in procs:
        proc.wait(timeout=30)


# --- the test --------------------------------------------------------------------------


# The test CA is made by the fixture; the strategy needs its fingerprint for ca_sha rules.
_CA_SHA = [""]


@dataclass
class Outcome:
    seen: dict[tuple[str, str, str, int | None], bool]
    failures: list[str]


def compare(lab: Lab, spec: dict[str, Any], tag: str) -> Outcome:
    """Run one network, probe every pair, and compare with what `reach` predicts."""
    root = lab.workdir / tag
    write_inventory(lab, spec, root)
    names = sorted(spec["hosts"])
    engine = reach.Reach.of(load(root))
    with running(root, names):
        warm_up(names)
        seen: dict[tuple[str, str, str, int | None], bool] = dict(probe_tcp_udp(names))
        first = ping_round([(a, b) for a in names for b in names if a < b])
        second = ping_round([(b, a) for a in names for b in names if a < b])
    seen.update({(src, dst, "icmp", None): ok for (src, dst), ok in {**first, **second}.items()})
    failures = []
    for (src, dst, proto, port), ok in sorted(seen.items(), key=str):
        if proto == "icmp":
            want = engine.access(src, dst).icmp or (src > dst and engine.icmp_back_channel(src, dst))
        else:
            want = port in engine.access(src, dst).ports(proto)
        if ok != want:
            failures.append(_disagree(engine, root, src, dst, proto, port, want=want, got=ok))
    return Outcome(seen, failures)


def test_reach_predicts_what_nebula_lets_through(rx_lab: Lab) -> None:
    _CA_SHA[0] = certs.cert_info(rx_lab.ca_crt).fingerprint
    ran = [0]
    outcomes = {True: 0, False: 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(spec=networks(_CA_SHA[0]))
    def check(spec: dict[str, Any]) -> None:
        ran[0] += 1
        outcome = compare(rx_lab, spec, f"net{ran[0]}")
        for ok in outcome.seen.values():
            outcomes[ok] += 1
        assert not outcome.failures, "\n\n".join(outcome.failures)

    check()
    assert ran[0] == EXAMPLES
    # The comparison means something only if nebula both let probes through and dropped some.
    assert outcomes[True] > 0, outcomes
    assert outcomes[False] > 0, outcomes
    print(
        f"reach differential: {EXAMPLES} networks, probes passed/dropped: {outcomes[True]}/{outcomes[False]}"
    )


OPEN_OUT = {"port": "any", "proto": "any", "host": "any"}


def _spec(defaults_in: list[dict[str, Any]], **hosts: dict[str, Any]) -> dict[str, Any]:
    return {
        "defaults": {"outbound": [OPEN_OUT], "inbound": defaults_in},
        "hosts": {
            h: {"groups": d.get("groups", []), "firewall": {"inbound": d.get("inbound", []), "outbound": []}}
            for h, d in hosts.items()
        },
    }


def test_known_nebula_behaviours(rx_lab: Lab) -> None:
    """What docs/reach.md says of nebula 1.10.3, seen on the real thing (and predicted)."""
    spec = _spec(
        [],
        # h0: tcp from h1 by `host` OR group b (alternatives: either one is enough); no ICMP.
        h0={"groups": ["a"], "inbound": [{"proto": "tcp", "port": 22, "host": "h1", "group": "b"}]},
        # h1: `groups` means all of them: h2 (a and b) gets in on 80, h0 (a only) does not.
        h1={"groups": ["a", "c"], "inbound": [{"proto": "tcp", "port": 80, "groups": ["a", "b"]}]},
        # h2: ICMP under a port range: nebula 1.10 files ICMP under port 0, so never matched.
        h2={"groups": ["a", "b"], "inbound": [{"proto": "icmp", "port": "80-81", "host": "any"}]},
    )
    root = rx_lab.workdir / "known"
    write_inventory(rx_lab, spec, root)
    with pytest.raises(
        ValidationFailed, match=r"hosts/h2.yml:\d+:\d+: \$.firewall.inbound\[0\]: ICMP has no ports"
    ):
        load_inventory(root)  # what validate says of the rule nebula ignores, shown below
    outcome = compare(rx_lab, spec, "known")
    assert not outcome.failures, "\n\n".join(outcome.failures)
    seen = outcome.seen
    assert seen["h1", "h0", "tcp", 22]  # host h1 ...
    assert seen["h2", "h0", "tcp", 22]  # ... or group b
    assert seen["h2", "h1", "tcp", 80]  # a and b
    assert not seen["h0", "h1", "tcp", 80]  # a alone is not enough
    # The first ping round goes h0->h1, h0->h2, h1->h2; all are dropped by the receiver.
    assert not seen["h0", "h2", "icmp", None]  # `{proto: icmp, port: 80-81}` lets no ICMP in
    assert not seen["h0", "h1", "icmp", None]
    # The second round goes back. h0 has no inbound ICMP rule, yet h1's and h2's pings get
    # in: h0's outbound let its own pings out and recorded (h0, peer, icmp) without an id.
    assert seen["h1", "h0", "icmp", None]
    assert seen["h2", "h0", "icmp", None]


def _disagree(  # noqa: PLR0917 (one packet, what was predicted and what was seen)
    engine: reach.Reach,
    root: Path,
    src: str,
    dst: str,
    proto: str,
    port: int | None,
    *,
    want: bool,
    got: bool,
) -> str:
    verdict = engine.explain(src, dst, proto, port)
    files = "".join(
        f"--- {p.relative_to(root)}\n{p.read_text()}"
        for p in sorted(root.glob("**/*.yml"))
        if "run" not in p.parts
    )
    return (
        f"reach predicts {'allowed' if want else 'denied'}, nebula {'let it through' if got else 'dropped it'}:\n"  # noqa: E501 (an exact message)
        + reach.explain_text(verdict)
        + files
    )
