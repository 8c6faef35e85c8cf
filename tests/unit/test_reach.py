"""reach, policy tests and graph: nebula 1.10.3's firewall semantics, offline.

The semantics themselves are proven against the real nebula by
tests/integration/test_reach_differential.py; these tests pin the engine's pieces, the
command's output and the policy file's errors.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import shutil
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cryptic_net import graph, reach
from cryptic_net.errors import UserError
from cryptic_net.inventory import Rule, load_inventory
from cryptic_net.model import Firewall
from tests.conftest import REPO, cli

if TYPE_CHECKING:
    from pathlib import Path

    from cryptic_net.model import Inventory


def rule(**raw: Any) -> Rule:
    ordered = [("port", raw.pop("port", "any")), ("proto", raw.pop("proto", "any")), *raw.items()]
    return Rule(tuple(ordered))


def spec(**raw: Any) -> reach.RuleSpec:
    return reach.RuleSpec.of(rule(**raw))


def peer(name: str = "p", groups: tuple[str, ...] = (), ip: str = "10.0.0.5") -> reach.Peer:
    return reach.Peer(name, ipaddress.IPv4Address(ip), frozenset(groups), "ca", "f" * 64)


def node(
    name: str,
    ip: str,
    groups: tuple[str, ...] = (),
    inbound: tuple[Rule, ...] = (),
    outbound: tuple[Rule, ...] = (),
) -> reach.Node:
    def located(rules: tuple[Rule, ...], side: str) -> tuple[reach.Located, ...]:
        return tuple(
            reach.Located(r, f"hosts/{name}.yml", f"$.firewall.{side}[{i}]") for i, r in enumerate(rules)
        )

    return reach.Node(
        name,
        ipaddress.IPv4Address(ip),
        frozenset(groups),
        located(inbound, "inbound"),
        located(outbound, "outbound"),
        "ca",
        "f" * 64,
    )


OPEN = rule(host="any")

# --- port sets -------------------------------------------------------------------------


intervals = st.lists(
    st.tuples(st.integers(1, 200), st.integers(0, 20)).map(lambda t: (t[0], t[0] + t[1])), max_size=5
)


@settings(max_examples=200)
@given(intervals, intervals, st.integers(1, 230))
def test_port_sets_are_sets(a: list[tuple[int, int]], b: list[tuple[int, int]], port: int) -> None:
    x, y = reach.PortSet.of(a), reach.PortSet.of(b)
    in_x = any(lo <= port <= hi for lo, hi in a)
    in_y = any(lo <= port <= hi for lo, hi in b)
    assert (port in x) == in_x
    assert (port in (x | y)) == (in_x or in_y)
    assert (port in (x & y)) == (in_x and in_y)
    assert (x | y).covers(x)
    assert x.covers(x & y)
    # normalised: sorted, disjoint, not adjacent
    for (_, hi), (lo, _) in zip((x | y).ranges, (x | y).ranges[1:], strict=False):
        assert lo > hi + 1


def test_port_text() -> None:
    assert str(reach.parse_port("any")) == "any"
    assert str(reach.parse_port("80-81") | reach.parse_port(82)) == "80-82"
    assert str(reach.parse_port("fragment")) == "fragment"
    assert str(reach.PortSet.of([(22, 22), (80, 90)])) == "22,80-90"


# --- one rule --------------------------------------------------------------------------


def test_groups_means_all_of_them() -> None:
    both = spec(groups=["a", "b"])
    assert both.matches_peer(peer(groups=("a", "b", "c")))
    assert not both.matches_peer(peer(groups=("a",)))


def test_host_group_and_cidr_are_alternatives() -> None:
    either = spec(host="h1", group="b")
    assert either.matches_peer(peer("h1"))
    assert either.matches_peer(peer("h2", ("b",)))
    assert not either.matches_peer(peer("h2", ("a",)))


def test_any_in_any_selector_matches_everyone() -> None:
    for raw in ({"host": "any"}, {"group": "any"}, {"cidr": "any"}, {"host": "any", "group": "x"}):
        assert spec(**raw).matches_peer(peer())  # nebula#1511 for host: any beside a group


def test_cidr_and_ca() -> None:
    assert spec(cidr="10.0.0.0/29").matches_peer(peer(ip="10.0.0.5"))
    assert not spec(cidr="10.0.0.8/29").matches_peer(peer(ip="10.0.0.5"))
    assert spec(ca_name="ca").matches_peer(peer())
    assert not spec(ca_name="other").matches_peer(peer())
    assert spec(ca_sha="f" * 64).matches_peer(peer())
    assert spec(ca_name="other", ca_sha="f" * 64).matches_peer(peer())  # either CA field
    assert not spec(ca_name="ca", group="x").matches_peer(peer(groups=("y",)))


def test_icmp_matches_only_port_any() -> None:
    # nebula 1.10 files ICMP under port 0: only `port: any` rules hold it.
    assert spec(proto="icmp").ports_for("icmp")
    assert not spec(proto="icmp", port="80-81").ports_for("icmp")
    assert not spec(proto="any", port=22).ports_for("icmp")
    assert spec(proto="any", port=22).ports_for("tcp") == reach.PortSet.of([(22, 22)])
    assert not spec(proto="udp").ports_for("tcp")


# --- the network -----------------------------------------------------------------------


def three() -> reach.Reach:
    return reach.Reach(
        [
            node("a", "10.0.0.1", ("admin",), outbound=(OPEN,)),
            node(
                "b",
                "10.0.0.2",
                ("web",),
                inbound=(rule(port="80-90", proto="tcp", group="admin"),),
                outbound=(OPEN,),
            ),
            node(
                "c",
                "10.0.0.3",
                (),
                inbound=(rule(proto="icmp", host="any"),),
                outbound=(rule(proto="icmp", host="b"),),
            ),
        ]
    )


def test_both_sides_apply() -> None:
    engine = three()
    assert str(engine.access("a", "b").tcp) == "80-90"
    assert not engine.access("b", "a")  # a has no inbound rules
    assert engine.access("a", "c").icmp
    assert not engine.access("c", "a")  # c's outbound allows only icmp to b; b's inbound no icmp


def test_icmp_back_channel() -> None:
    engine = three()
    # a -> b ICMP leaves a (open outbound) and b drops it; a recorded (a, b, icmp) without an
    # id, so b's ICMP then gets into a although a has no inbound rule.
    assert engine.icmp_back_channel("b", "a")
    # a pinged c (allowed both ways): c may ping a back the same way.
    assert engine.icmp_back_channel("c", "a")
    # No back channel where the rules already allow it, or where the peer never sends ICMP.
    assert not engine.icmp_back_channel("a", "c")
    mute = reach.Reach([node("x", "10.0.0.1"), node("y", "10.0.0.2", outbound=(OPEN,))])
    assert not mute.icmp_back_channel("y", "x")


def test_flows_and_filters() -> None:
    engine = three()
    assert [(f.src, f.dst, f.proto, str(f.ports), f.after_icmp_from_dst) for f in engine.flows()] == [
        ("a", "b", "tcp", "80-90", False),
        ("a", "b", "icmp", "any", True),  # only after b sent ICMP to a
        ("a", "c", "icmp", "any", False),
        ("b", "a", "icmp", "any", True),
        ("b", "c", "icmp", "any", False),
        ("c", "a", "icmp", "any", True),
        ("c", "b", "icmp", "any", True),
    ]
    flows = list(engine.flows(port=reach.parse_port_filter("85-100"), protos=["tcp"]))
    assert [str(f.ports) for f in flows] == ["85-90"]
    assert [f.after_icmp_from_dst for f in engine.flows(sources=["c"])] == [True, True]


def test_explain_names_rules_on_each_side() -> None:
    verdict = three().explain("a", "b", "tcp", 22)
    assert not verdict.allowed
    assert verdict.outbound.allowed
    assert [str(loc.where) for loc in verdict.outbound.allowing] == [
        "hosts/a.yml:1:1: $.firewall.outbound[0]"
    ]
    assert [why for _, why in verdict.inbound.rejecting] == ["port is 80-90"]


# --- redundant rules -------------------------------------------------------------------


def test_covers() -> None:
    assert reach.covers(spec(host="any"), spec(port=22, proto="tcp", group="a"))
    assert reach.covers(
        spec(port="20-30", proto="tcp", group="a"), spec(port=22, proto="tcp", groups=["a", "b"])
    )
    assert not reach.covers(
        spec(port=22, proto="tcp", groups=["a", "b"]), spec(port=22, proto="tcp", group="a")
    )
    assert not reach.covers(spec(proto="tcp", group="a"), spec(proto="any", group="a"))
    assert reach.covers(spec(cidr="10.0.0.0/8"), spec(cidr="10.1.0.0/16", proto="udp"))
    assert not reach.covers(spec(ca_name="x", host="any"), spec(host="any"))
    assert reach.covers(spec(host="h1", group="a"), spec(host="h1"))


def test_never_held() -> None:
    holders = [frozenset({"a", "b"}), frozenset({"c"})]
    assert reach.never_held(spec(groups=["a", "c"]), holders)
    assert not reach.never_held(spec(groups=["a", "b"]), holders)
    assert not reach.never_held(spec(group="zzz"), holders)  # a single group: rule-unknown-group


# --- the command -----------------------------------------------------------------------


def test_reach_table_of_the_example(inventory: Path) -> None:
    result = cli("reach", "--root", inventory, "--from", "alpha")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "FROM   TO          PROTO  PORTS\n"
        "alpha  beta        tcp    80\n"
        "alpha  beta        icmp   -\n"
        "alpha  lighthouse  icmp   -\n"
    )


def test_reach_json_and_port_filter(inventory: Path) -> None:
    result = cli("reach", "--root", inventory, "--port", "80", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"from": "alpha", "to": "beta", "proto": "tcp", "ports": "80"}]


def test_reach_explain(inventory: Path) -> None:
    result = cli("reach", "--root", inventory, "--explain", "beta", "alpha", "tcp/22")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "beta -> alpha tcp/22: denied\n"
        "  outbound on beta: allowed by\n"
        "    network.yml:16:9: $.defaults.firewall.outbound[0]  {port: any, proto: any, host: any}\n"
        "  inbound on alpha: denied: no rule matches\n"
        "    network.yml:18:9: $.defaults.firewall.inbound[0]  {port: any, proto: icmp, host: any}: proto is icmp\n"  # noqa: E501 (an exact message)
        "    hosts/alpha.yml:10:7: $.firewall.inbound[0]  {port: 22, proto: tcp, group: admin}: "
        "beta is not in group admin (its groups: server)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--explain", "beta", "nobody", "tcp/22"),
            "cryptic-net: error: no host named 'nobody' (hosts: alpha, beta, lighthouse)",
        ),
        (
            ("--explain", "beta", "alpha", "tcp/0"),
            "cryptic-net: error: 'tcp/0': expected tcp/PORT with a port within 1-65535",
        ),
        (
            ("--explain", "beta", "alpha", "sctp/1"),
            "cryptic-net: error: 'sctp/1': protocol must be one of tcp, udp, icmp (e.g. tcp/22, icmp)",
        ),
        (
            ("--explain", "beta", "alpha", "icmp/8"),
            "cryptic-net: error: 'icmp/8': ICMP has no ports; write icmp",
        ),
        (
            (
                "--port",
                "70000",
            ),
            "cryptic-net: error: --port '70000': expected a port or a range within 1-65535, or fragment",
        ),
        (("--to", "nobody"), "cryptic-net: error: no host named 'nobody' (hosts: alpha, beta, lighthouse)"),
    ],
)
def test_reach_bad_arguments(inventory: Path, args: tuple[str, ...], message: str) -> None:
    result = cli("reach", "--root", inventory, *args)
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert "Traceback" not in result.stderr


# --- policy tests ----------------------------------------------------------------------


def _policy(inventory: Path, text: str) -> Any:
    (inventory / "policy.yml").write_text(text)
    return cli("validate", "--root", inventory)


def test_the_example_policy_passes(inventory: Path, tmp_path: Path) -> None:
    shutil.copy2(REPO / "policy.yml", inventory / "policy.yml")
    result = cli("validate", "--root", inventory)
    assert result.returncode == 0, result.stderr


def test_failing_assertions_name_the_deciding_rules(inventory: Path) -> None:
    result = _policy(
        inventory,
        "tests:\n"
        "  - {from: beta, to: alpha, allow: tcp/22}\n"
        "  - {from: group:laptop, to: beta, deny: tcp/70-90}\n",
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        (
            "policy.yml:2:36: $.tests[0].allow: beta -> alpha tcp/22 is denied: inbound on alpha: no rule matches: "  # noqa: E501 (an exact message)
            "network.yml:18:9: $.defaults.firewall.inbound[0] {port: any, proto: icmp, host: any}: proto is icmp; "  # noqa: E501 (an exact message)
            "hosts/alpha.yml:10:7: $.firewall.inbound[0] {port: 22, proto: tcp, group: admin}: "
            "beta is not in group admin (its groups: server)"
        ),
        (
            "policy.yml:3:42: $.tests[1].deny: alpha -> beta tcp/80 is allowed: outbound on alpha allowed by "
            "network.yml:16:9: $.defaults.firewall.outbound[0] {port: any, proto: any, host: any}; "
            "inbound on beta allowed by hosts/beta.yml:10:7: $.firewall.inbound[0] {port: 80, proto: tcp, group: laptop}"  # noqa: E501 (an exact message)
        ),
        "2 errors",
    ]


def test_a_range_must_be_allowed_whole(inventory: Path) -> None:
    result = _policy(inventory, "tests:\n  - {from: alpha, to: beta, allow: tcp/79-80}\n")
    assert result.returncode == 2
    assert "alpha -> beta tcp/79 is denied" in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "tests:\n  - {from: alpha, to: bogus, allow: tcp/80}\n",
            "policy.yml:2:23: $.tests[0].to: no host named 'bogus' (hosts: alpha, beta, lighthouse)",
        ),
        (
            "tests:\n  - {from: [alpha, group:nope], to: beta, allow: tcp/80}\n",
            "policy.yml:2:20: $.tests[0].from[1]: no host has group 'nope'",
        ),
        (
            "tests:\n  - {from: alpha, to: beta, allow: tcp/99999}\n",
            "policy.yml:2:36: $.tests[0].allow: 'tcp/99999': ports must be within 1-65535, a range from low to high",  # noqa: E501 (an exact message)
        ),
        (
            "tests:\n  - {from: alpha, to: beta, allow: sctp/1}\n",
            (
                "policy.yml:2:36: $.tests[0].allow: 'sctp/1' is not a packet: tcp/PORT, udp/PORT, tcp/FROM-TO, "  # noqa: E501 (an exact message)
                "udp/FROM-TO or icmp (or a list of them)"
            ),
        ),
        (
            "tests:\n  - {from: alpha, to: beta}\n",
            "policy.yml:2:5: $.tests[0]: needs `allow` or `deny` (or both)",
        ),
        (
            "tests:\n  - {from: alpha, to: beta, allow: icmp, why: x}\n",
            "policy.yml:2:42: $.tests[0].why: unknown key (expected one of: allow, deny, from, to)",
        ),
        (
            "tests: [\n",
            "policy.yml:2:1: $: not valid YAML: while parsing a flow node, expected the node content, but found '<stream end>'",  # noqa: E501 (an exact message)
        ),
    ],
)
def test_bad_policy_files(inventory: Path, text: str, message: str) -> None:
    result = _policy(inventory, text)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == message
    assert "Traceback" not in result.stderr


# --- graph -----------------------------------------------------------------------------


def test_graph_dot_is_deterministic_and_complete(inventory: Path) -> None:
    inv = load_inventory(inventory)
    text = graph.dot(inv)
    assert text == graph.dot(load_inventory(inventory))
    assert '"alpha" -> "beta" [label="tcp 80\\nicmp"' in text
    assert '"alpha" -> "lighthouse" [style=dashed' in text
    assert '"lighthouse" -> "alpha" [style=dotted' in text
    assert "lighthouse + relay" in text


def test_graph_dot_is_the_committed_source(inventory: Path) -> None:
    result = cli("graph", "--root", inventory, "--format", "dot")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "docs" / "example-network.dot").read_text()


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is installed by tests/run")
def test_graph_svg_is_deterministic(inventory: Path, tmp_path: Path) -> None:
    # The committed SVG was drawn by one Graphviz version; others lay out differently, so
    # the bytes are compared between two runs here, and the DOT source with the commit.
    first = cli("graph", "--root", inventory, "--out", tmp_path / "a.svg")
    second = cli("graph", "--root", inventory)
    assert first.returncode == 0, first.stderr
    svg = (tmp_path / "a.svg").read_text()
    assert svg == second.stdout
    assert svg.lstrip().startswith("<?xml")
    for text in ("alpha", "beta", "lighthouse", "10.42.0.2", "tcp 80", "groups: admin, laptop"):
        assert f">{text}<" in svg or text in svg


# --- graph: classes of hosts ----------------------------------------------------------------


def _grown(inventory: Path, laptops: int, servers: int) -> Inventory:
    """The example network with `laptops` copies of alpha and `servers` copies of beta."""
    inv = load_inventory(inventory)
    alpha, beta, lighthouse = (inv.host(n) for n in ("alpha", "beta", "lighthouse"))
    hosts = [lighthouse]
    address = iter(ipaddress.IPv4Network("10.42.0.0/24").hosts())
    next(address)  # the lighthouse's
    for kind, count, like in (("laptop", laptops, alpha), ("server", servers, beta)):
        hosts += [replace(like, name=f"{kind}{i:02d}", ip=next(address), aliases=()) for i in range(count)]
    return replace(inv, hosts=tuple(hosts))


def test_graph_classes_draw_hosts_the_rules_treat_alike_as_one_box(inventory: Path) -> None:
    inv = _grown(inventory, laptops=12, servers=20)
    drawn = graph.drawing(inv, "class")
    assert drawn.boxes == 3
    text = drawn.text
    assert '"laptop00" [label="12 hosts\\nlaptop00, laptop01, laptop02, ...\\ngroups: admin, laptop"' in text
    assert '"server00" [label="20 hosts\\nserver00, server01, server02, ...\\ngroups: server"' in text
    assert 'tooltip="server00 server01 server02 server03 server04 server05 server06' in text
    # Every laptop opens tcp 80 on every server (beta's rule), and ICMP everywhere.
    assert '"laptop00" -> "server00" [label="tcp 80\\nicmp",' in text
    # Within a class: laptops ssh to each other (alpha's rule: 22 from admin), servers only ping.
    assert '"laptop00" -> "laptop00" [label="tcp 22\\nicmp",' in text
    assert '"server00" -> "server00" [label="icmp",' in text
    assert "one box: hosts the rules treat alike" in text
    # auto: one box per host for a small network, classes for a large one.
    assert graph.drawing(inv, "auto").boxes == 33
    assert graph.drawing(_grown(inventory, laptops=30, servers=30), "auto").boxes == 3


def test_graph_classes_never_claim_more_than_every_pair_allows(inventory: Path) -> None:
    """Each desk lets only its own laptop in by ssh: no box can hold two laptops or two desks,
    since an arrow between boxes holds for every host of one towards every host of the other."""
    inv = _grown(inventory, laptops=3, servers=3)
    own = [
        replace(h, firewall=Firewall(inbound=(rule(port=22, proto="tcp", host=f"laptop{h.name[-2:]}"),)))
        if h.name.startswith("server")
        else h
        for h in inv.hosts
    ]
    drawn = graph.drawing(replace(inv, hosts=tuple(own)), "class")
    assert drawn.boxes == 7
    assert '"laptop01" -> "server01" [label="tcp 22\\nicmp"' in drawn.text
    assert '"laptop01" -> "server02" [label="icmp"' in drawn.text


def _pairs(blocks: list[int], relation: list[list[int]]) -> graph.Pairs:
    like = load_inventory(REPO).host("beta")
    n = len(blocks)
    matrix = [[-1 if j == i else relation[blocks[i]][blocks[j]] for j in range(n)] for i in range(n)]
    hosts = [replace(like, name=f"h{i}") for i in range(n)]
    return graph.Pairs(hosts, matrix, [("", False, False)] * 3)


@settings(max_examples=200, deadline=None)
# Each of two hosts reaches only its own partner: every host sees the same relations towards
# each class, so only the check for uniform pairs splits them.
@example(blocks=[0, 0, 1, 1], relation=[[0] * 4] * 4, noise=[(0, 2, 1), (1, 3, 1)])
@given(
    blocks=st.lists(st.integers(0, 3), min_size=1, max_size=9),
    relation=st.lists(st.lists(st.integers(0, 2), min_size=4, max_size=4), min_size=4, max_size=4),
    noise=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8), st.integers(0, 2)), max_size=3),
)
def test_graph_classes_are_exact(
    blocks: list[int], relation: list[list[int]], noise: list[tuple[int, int, int]]
) -> None:
    """Any relation between hosts: the classes partition the hosts, every pair of classes is
    uniform, no two classes could be merged, and where the hosts fall into blocks that are
    uniform, there are no more classes than blocks."""
    p = _pairs(blocks, relation)
    found = graph.classes(p)
    n = len(blocks)
    assert len({i for c in found for i in c}) == n == sum(len(c) for c in found)
    assert len(found) <= len(set(blocks))
    for i, j, r in noise:  # pairs that break the blocks
        if i < n and j < n and i != j:
            p.matrix[i][j] = r
    found = graph.classes(p)
    assert sorted(i for c in found for i in c) == list(range(n))

    def uniform(partition: list[list[int]]) -> bool:
        return all(
            len({p.matrix[i][j] for i in a for j in b if i != j}) <= 1 for a in partition for b in partition
        )

    assert uniform(found)
    # and the fewest: no two classes could be one
    for x, y in itertools.combinations(range(len(found)), 2):
        merged = [c for k, c in enumerate(found) if k not in {x, y}] + [found[x] + found[y]]
        assert not uniform(merged), (found[x], found[y])


def test_graph_too_large_to_draw_is_refused(inventory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph, "MAX_ARROWS", 5)
    with pytest.raises(
        UserError, match=r"^3 boxes and 8 arrows: too many for one picture \(at most 150 and 5"
    ):
        graph.svg(load_inventory(inventory), "host")
    assert graph.dot(load_inventory(inventory), "host").count(" -> ") == 8  # the source is still written


def _expanded(classes: list[reach.HostClass], flows: list[reach.Flow]) -> set[tuple[Any, ...]]:
    members = {c.name: c.hosts for c in classes}
    return {
        (a, b, f.proto, str(f.ports), f.after_icmp_from_dst)
        for f in flows
        for a in members[f.src]
        for b in members[f.dst]
        if a != b
    }


@pytest.mark.parametrize("own_desk", [False, True], ids=["roles", "each-desk-its-laptop"])
def test_reach_by_class_says_exactly_what_the_host_table_says(inventory: Path, own_desk: bool) -> None:
    inv = _grown(inventory, laptops=4, servers=4)
    if own_desk:
        inv = replace(
            inv,
            hosts=tuple(
                replace(
                    h, firewall=Firewall(inbound=(rule(port=22, proto="tcp", host="laptop" + h.name[-2:]),))
                )
                if h.name.startswith("server")
                else h
                for h in inv.hosts
            ),
        )
    engine = reach.Reach.of(inv)
    classes, flows = reach.by_class(engine, engine.flows())
    assert len(classes) == (9 if own_desk else 3)
    if not own_desk:
        assert [c.name for c in classes] == ["laptop00+3", "lighthouse", "server00+3"]
        assert ("laptop00+3", "server00+3", "tcp", "80") in {
            (f.src, f.dst, f.proto, str(f.ports)) for f in flows
        }
    assert _expanded(classes, flows) == {
        (f.src, f.dst, f.proto, str(f.ports), f.after_icmp_from_dst) for f in engine.flows()
    }


def test_reach_classes_command(inventory: Path) -> None:
    result = cli("reach", "--root", inventory, "--classes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("3 classes of hosts the flows below treat alike")
    assert "  alpha (groups: admin, laptop)\n" in result.stdout
    assert result.stdout.endswith(cli("reach", "--root", inventory).stdout)
    listed = json.loads(cli("reach", "--root", inventory, "--classes", "--json").stdout)
    assert [c["hosts"] for c in listed["classes"]] == [["alpha"], ["beta"], ["lighthouse"]]
    assert {"from": "alpha", "to": "beta", "proto": "tcp", "ports": "80"} in listed["flows"]
