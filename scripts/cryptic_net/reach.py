"""Who can open what to whom: nebula's firewall, evaluated offline from the inventory.

The semantics are nebula 1.10.3's (`firewall.go`, the version the flake ships), read from its
source and checked against the real binary by tests/integration/test_reach_differential.py:

- A packet from A to B passes A's outbound table, then B's inbound table. Each table is the
  network's default rules followed by the host's own (render.py puts them in that order);
  nebula's rules only allow, so their order never changes the outcome.
- A rule matches when its proto matches (`any` matches every protocol), its port matches the
  destination port (`any` matches every port and fragments, `fragment` matches only the
  second and later fragments of a packet), its CA matches (`ca_sha` is the peer
  certificate's issuer, `ca_name` the name of the CA that signed it; either may match), and
  its peer selectors match: `host: any`, `group: any`, `cidr: any` or no selector at all
  match everyone; otherwise `host` (the certificate name), `groups` (ALL of them in the
  certificate, slackhq/nebula#96) and `cidr` (the peer's overlay address) are alternatives:
  any one of them matching is enough (so `host: any` beside `groups` matches everyone,
  slackhq/nebula#1511).
- ICMP has no ports: nebula 1.10 files an ICMP packet under port 0, which only `port: any`
  rules hold, so `{proto: icmp, port: 80}` matches no ICMP packet. (nebula 1.11 changed this:
  an ICMP rule's port is ignored there, slackhq/nebula#1609.)
- Replies pass by connection tracking: the first packet that passes records its 5-tuple on
  both hosts. For ICMP the tuple has no identifier, so once A sent any ICMP to B, every ICMP
  from B is let into A for `conntrack.default_timeout`; `Reach.icmp_back_channel` says where
  that opens a way the rules alone do not.

Port sets are sorted, disjoint intervals, so a rule `1-65535` costs as much as `22`, and the
matrix of a network is computed per class of peers (hosts that the same rules match), not
per port. Pure: no file is read here except through `Locator`, which finds rule lines.
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from cryptic_net.errors import UserError
from cryptic_net.yamlload import Document, LoadError, load_file

if TYPE_CHECKING:
    from collections.abc import Hashable, Iterable, Iterator, Sequence

    from cryptic_net.errors import Diagnostic
    from cryptic_net.inventory import Inventory, Rule

PORT_MIN = 1
PORT_MAX = 65535
PROTOS = ("tcp", "udp", "icmp")
Proto = Literal["tcp", "udp", "icmp"]
Direction = Literal["inbound", "outbound"]


# --- port sets -------------------------------------------------------------------------


@dataclass(frozen=True)
class PortSet:
    """Destination ports as sorted, disjoint, non-adjacent intervals, plus `fragment`."""

    ranges: tuple[tuple[int, int], ...] = ()
    fragment: bool = False

    @staticmethod
    def of(ranges: Iterable[tuple[int, int]], *, fragment: bool = False) -> PortSet:
        merged: list[tuple[int, int]] = []
        for low, high in sorted(ranges):
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        return PortSet(tuple(merged), fragment)

    def __or__(self, other: PortSet) -> PortSet:
        return PortSet.of(self.ranges + other.ranges, fragment=self.fragment or other.fragment)

    def __and__(self, other: PortSet) -> PortSet:
        out: list[tuple[int, int]] = []
        i = j = 0
        a, b = self.ranges, other.ranges
        while i < len(a) and j < len(b):
            low, high = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
            if low <= high:
                out.append((low, high))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return PortSet(tuple(out), self.fragment and other.fragment)

    def covers(self, other: PortSet) -> bool:
        return (self & other) == other

    def __contains__(self, port: int | str) -> bool:
        if port == "fragment":
            return self.fragment
        return any(low <= int(port) <= high for low, high in self.ranges)

    def __bool__(self) -> bool:
        return bool(self.ranges) or self.fragment

    @property
    def is_any(self) -> bool:
        return self.ranges == ((PORT_MIN, PORT_MAX),) and self.fragment

    def __str__(self) -> str:
        if self.is_any:
            return "any"
        parts = [str(low) if low == high else f"{low}-{high}" for low, high in self.ranges]
        return ",".join([*parts, *(["fragment"] if self.fragment else [])]) or "none"


ANY_PORT = PortSet(((PORT_MIN, PORT_MAX),), fragment=True)
NO_PORT = PortSet()


def parse_port(value: object) -> PortSet:
    """A rule's `port` (validated by the schema and the inventory checks) as a PortSet."""
    text = str(value).strip()
    if text == "any":
        return ANY_PORT
    if text == "fragment":
        return PortSet(fragment=True)
    low, _, high = text.partition("-")
    start = int(low)
    end = int(high) if high else start
    if start == 0:  # nebula: a range starting at 0 (PortAny) is `any`
        return ANY_PORT
    return PortSet.of([(start, end)])


# --- one rule --------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """What a firewall sees of the other side: its certificate and its overlay address."""

    name: str
    ip: ipaddress.IPv4Address
    groups: frozenset[str]
    ca_name: str
    ca_sha: str


@dataclass(frozen=True)
class Where:
    """A rule's place: the file and JSON path it was written at, and its line."""

    file: str
    path: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.path}"


@dataclass(frozen=True)
class Located:
    """A rule and where it was written; its line is looked up only when shown."""

    rule: Rule
    file: str
    path: str
    locator: Locator | None = field(default=None, compare=False, repr=False)

    @cached_property
    def where(self) -> Where:
        if self.locator is None:
            return Where(self.file, self.path)
        return self.locator.where(self.file, self.path)

    @cached_property
    def spec(self) -> RuleSpec:
        return RuleSpec.of(self.rule)

    def text(self) -> str:
        return "{" + ", ".join(f"{k}: {_flow_value(v)}" for k, v in self.rule.fields) + "}"


def _flow_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class RuleSpec:
    """A rule normalised to nebula's terms."""

    proto: str  # any, tcp, udp, icmp
    ports: PortSet
    anyone: bool  # host/group/cidr `any`, or no peer selector at all
    host: str | None
    groups: frozenset[str] | None
    cidr: ipaddress.IPv4Network | None
    ca_name: str | None
    ca_sha: str | None

    @staticmethod
    def of(rule: Rule) -> RuleSpec:
        raw = rule.as_dict()
        groups: list[str] | None = None
        if "group" in raw:
            groups = [str(raw["group"])]
        elif "groups" in raw:
            groups = [str(g) for g in raw["groups"]]
        host = str(raw["host"]) if "host" in raw else None
        cidr_text = str(raw["cidr"]) if "cidr" in raw else None
        anyone = (
            (groups is None and host is None and cidr_text is None)
            or host == "any"
            or cidr_text == "any"
            or (groups is not None and "any" in groups)
        )
        cidr = ipaddress.IPv4Network(cidr_text) if cidr_text not in {None, "any"} else None
        return RuleSpec(
            proto=str(raw.get("proto", "any")),
            ports=parse_port(raw.get("port", "any")),
            anyone=anyone,
            host=host,
            groups=frozenset(groups) if groups is not None else None,
            cidr=cidr,
            ca_name=str(raw["ca_name"]) if "ca_name" in raw else None,
            ca_sha=str(raw["ca_sha"]) if "ca_sha" in raw else None,
        )

    @property
    def uses_ca(self) -> bool:
        return self.ca_name is not None or self.ca_sha is not None

    def ca_matches(self, peer: Peer) -> bool:
        if not self.uses_ca:
            return True
        return self.ca_sha == peer.ca_sha or self.ca_name == peer.ca_name

    def selects(self, peer: Peer) -> bool:
        if self.anyone:
            return True
        if self.groups is not None and self.groups <= peer.groups:
            return True
        if self.host is not None and self.host == peer.name:
            return True
        return self.cidr is not None and peer.ip in self.cidr

    def matches_peer(self, peer: Peer) -> bool:
        return self.ca_matches(peer) and self.selects(peer)

    def ports_for(self, proto: str) -> PortSet:
        """Ports of `proto` this rule can let through (for icmp: ANY_PORT or NO_PORT)."""
        if self.proto not in {"any", proto}:
            return NO_PORT
        if proto == "icmp":
            # ICMP packets carry port 0 in nebula 1.10, found only under `port: any`.
            return ANY_PORT if self.ports.is_any else NO_PORT
        return self.ports

    def why_not(self, peer: Peer, proto: str, port: int | str | None) -> str | None:
        """None if the rule lets this packet through, else the first reason it does not."""
        if self.proto not in {"any", proto}:
            return f"proto is {self.proto}"
        if proto == "icmp" and not self.ports.is_any:
            return f"port is {self.ports}, and nebula 1.10 matches ICMP only with port: any"
        if proto != "icmp" and port is not None and port not in self.ports:
            return f"port is {self.ports}"
        if not self.ca_matches(peer):
            return "the peer's CA is not " + " or ".join(
                x for x in (self.ca_name and f"named {self.ca_name!r}", self.ca_sha and "that sha") if x
            )
        if not self.selects(peer):
            wanted = []
            if self.groups is not None and len(self.groups) == 1:
                wanted.append(f"in group {next(iter(self.groups))}")
            elif self.groups is not None:
                wanted.append("in all of the groups " + ", ".join(sorted(self.groups)))
            if self.host is not None:
                wanted.append(f"host {self.host}")
            if self.cidr is not None:
                wanted.append(f"cidr {self.cidr}")
            has = ", ".join(sorted(peer.groups)) or "none"
            return f"{peer.name} is not " + " or ".join(wanted) + f" (its groups: {has})"
        return None


# --- rule locations --------------------------------------------------------------------


@dataclass
class Locator:
    """Finds the line of each rule in the YAML the inventory was loaded from."""

    root: Any  # pathlib.Path
    docs: dict[str, Document | None] = field(default_factory=dict)

    def doc(self, file: str) -> Document | None:
        if file not in self.docs:
            try:
                self.docs[file] = load_file(file, self.root / file)
            except LoadError:
                self.docs[file] = None
        return self.docs[file]

    def where(self, file: str, path: str) -> Where:
        doc = self.doc(file)
        line, col = doc.where(path) if doc is not None else (1, 1)
        return Where(file, path, line, col)


@dataclass(frozen=True)
class Node:
    """One host as its firewall sees the network: its certificate's name, groups and CA, its
    overlay address, and its two rule tables (the network's defaults first, then its own)."""

    name: str
    ip: ipaddress.IPv4Address
    groups: frozenset[str]
    inbound: tuple[Located, ...]
    outbound: tuple[Located, ...]
    ca_name: str = ""  # filled only when some rule names a CA (reading it runs nebula-cert)
    ca_sha: str = ""

    @property
    def peer(self) -> Peer:
        return Peer(self.name, self.ip, self.groups, self.ca_name, self.ca_sha)


def uses_ca(rules: Iterable[Rule]) -> bool:
    return any("ca_name" in r.as_dict() or "ca_sha" in r.as_dict() for r in rules)


def nodes_of(inv: Inventory) -> list[Node]:
    """The validated inventory as Nodes; rule lines are looked up in its YAML when shown."""
    locate = Locator(inv.root)
    fw = inv.network.firewall
    every = [
        *fw.inbound,
        *fw.outbound,
        *(r for h in inv.hosts for r in (*h.firewall.inbound, *h.firewall.outbound)),
    ]
    cas: dict[str, str] = {}
    if uses_ca(every):
        from cryptic_net import certs  # noqa: PLC0415 (nebula-cert runs only for ca_name/ca_sha rules)

        for path in getattr(inv.network, "cas", ()) or (inv.network.ca,):
            info = certs.cert_info(path)
            cas[info.fingerprint] = info.name
    nodes = []
    for host in inv.hosts:
        sides: dict[str, tuple[Located, ...]] = {}
        for direction in ("inbound", "outbound"):
            sides[direction] = tuple(
                Located(rule, "network.yml", f"$.defaults.firewall.{direction}[{i}]", locate)
                for i, rule in enumerate(getattr(fw, direction))
            ) + tuple(
                Located(rule, f"hosts/{host.name}.yml", f"$.firewall.{direction}[{i}]", locate)
                for i, rule in enumerate(getattr(host.firewall, direction))
            )
        ca_name = ca_sha = ""
        if cas:
            from cryptic_net import certs  # noqa: PLC0415

            ca_sha = certs.cert_info(host.cert).issuer
            ca_name = cas.get(ca_sha, "")
        nodes.append(
            Node(
                host.name,
                host.ip,
                frozenset(host.groups),
                sides["inbound"],
                sides["outbound"],
                ca_name,
                ca_sha,
            )
        )
    return nodes


# --- the network -----------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What may pass one way between two hosts, by protocol."""

    tcp: PortSet = NO_PORT
    udp: PortSet = NO_PORT
    icmp: bool = False

    def __and__(self, other: Access) -> Access:
        return Access(self.tcp & other.tcp, self.udp & other.udp, self.icmp and other.icmp)

    def __bool__(self) -> bool:
        return bool(self.tcp) or bool(self.udp) or self.icmp

    def ports(self, proto: str) -> PortSet:
        if proto == "icmp":
            return ANY_PORT if self.icmp else NO_PORT
        return self.tcp if proto == "tcp" else self.udp


@dataclass(frozen=True)
class Flow:
    src: str
    dst: str
    proto: str
    ports: PortSet
    after_icmp_from_dst: bool = False  # the ICMP back channel, see the module docstring

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"from": self.src, "to": self.dst, "proto": self.proto}
        if self.proto != "icmp":
            data["ports"] = str(self.ports)
        if self.after_icmp_from_dst:
            data["only_after"] = f"icmp from {self.dst} to {self.src}"
        return data


@dataclass(frozen=True)
class SideVerdict:
    host: str
    direction: Direction
    allowing: tuple[Located, ...]  # every rule that lets the packet through
    rejecting: tuple[tuple[Located, str], ...]  # every other rule, with its reason

    @property
    def allowed(self) -> bool:
        return bool(self.allowing)


@dataclass(frozen=True)
class Verdict:
    src: str
    dst: str
    proto: str
    port: int | str | None
    outbound: SideVerdict
    inbound: SideVerdict
    icmp_back_channel: bool = False

    @property
    def allowed(self) -> bool:
        return self.outbound.allowed and self.inbound.allowed

    @property
    def packet(self) -> str:
        return self.proto if self.port is None else f"{self.proto}/{self.port}"


class Reach:
    """The firewall of every host, evaluated for every other host."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.nodes = sorted(nodes, key=lambda n: n.name)
        self.names = [n.name for n in self.nodes]
        self.index = {n.name: i for i, n in enumerate(self.nodes)}
        self.peers = [n.peer for n in self.nodes]
        self._classes: dict[tuple[str, Direction], list[Access]] = {}
        self._matching: dict[RuleSpec, frozenset[int] | None] = {}
        self._interned: dict[Access, Access] = {}
        by_group: dict[str, set[int]] = {}
        for i, n in enumerate(self.nodes):
            for g in n.groups:
                by_group.setdefault(g, set()).add(i)
        self._by_group = {g: frozenset(members) for g, members in by_group.items()}

    @staticmethod
    def of(inv: Inventory) -> Reach:
        return Reach(nodes_of(inv))

    def node(self, name: str) -> Node:
        if name not in self.index:
            raise UserError(f"no host named {name!r} (hosts: {', '.join(self.names)})")
        return self.nodes[self.index[name]]

    def rules(self, name: str, direction: Direction) -> tuple[Located, ...]:
        node = self.node(name)
        return node.inbound if direction == "inbound" else node.outbound

    def matching(self, spec: RuleSpec) -> frozenset[int] | None:
        """The indices of the peers a rule matches, None for all of them (once per rule)."""
        if spec in self._matching:
            return self._matching[spec]
        found: set[int] | None = None
        if not spec.anyone:
            found = set()
            if spec.groups is not None:
                sets = [self._by_group.get(g, frozenset()) for g in spec.groups]
                found |= frozenset.intersection(*sets) if sets else set()
            if spec.host is not None and spec.host in self.index:
                found.add(self.index[spec.host])
            if spec.cidr is not None:
                found |= {i for i, p in enumerate(self.peers) if p.ip in spec.cidr}
        if spec.uses_ca:
            signed = {i for i, p in enumerate(self.peers) if spec.ca_matches(p)}
            found = signed if found is None else found & signed
        result = frozenset(found) if found is not None else None
        self._matching[spec] = result
        return result

    def _intern(self, access: Access) -> Access:
        return self._interned.setdefault(access, access)

    def side(self, name: str, direction: Direction) -> list[Access]:
        """What `name` lets through in `direction`, for each peer (indexed like `nodes`).

        Peers that the same subset of rules matches share one (interned) Access object: the
        ports are worked out once per class of peers, and equal sides share their objects."""
        key = (name, direction)
        if key in self._classes:
            return self._classes[key]
        specs = [loc.spec for loc in self.rules(name, direction)]
        base = 0
        masks: list[int] | None = None
        for bit, spec in enumerate(specs):
            matched = self.matching(spec)
            if matched is None:
                base |= 1 << bit
                continue
            if masks is None:
                masks = [0] * len(self.peers)
            for peer in matched:
                masks[peer] |= 1 << bit
        by_mask: dict[int, Access] = {}

        def access_of(mask: int) -> Access:
            chosen = [s for bit, s in enumerate(specs) if mask >> bit & 1]
            return self._intern(
                Access(
                    tcp=_union(s.ports_for("tcp") for s in chosen),
                    udp=_union(s.ports_for("udp") for s in chosen),
                    icmp=any(s.ports_for("icmp") for s in chosen),
                )
            )

        if masks is None:
            out = [access_of(base)] * len(self.peers)
        else:
            out = []
            for mask in masks:
                full = mask | base
                access = by_mask.get(full)
                if access is None:
                    access = by_mask[full] = access_of(full)
                out.append(access)
        self._classes[key] = out
        return out

    def access(self, src: str, dst: str) -> Access:
        """What `src` can open to `dst` from a fresh start: src's outbound and dst's inbound."""
        i, j = self.index[src], self.index[dst]
        return self.side(src, "outbound")[j] & self.side(dst, "inbound")[i]

    def icmp_back_channel(self, src: str, dst: str) -> bool:
        """src can ICMP dst only once dst has sent ICMP to src (nebula's ICMP conntrack).

        dst's outbound ICMP to src records (dst, src, icmp) on dst, which lets ICMP from src
        into dst; src's packet must still get out of src, by rule or by the entry src made
        when it let dst's ICMP in."""
        i, j = self.index[src], self.index[dst]
        if self.access(src, dst).icmp:
            return False
        dst_sends = self.side(dst, "outbound")[i].icmp
        src_out = self.side(src, "outbound")[j].icmp or self.side(src, "inbound")[j].icmp
        return dst_sends and src_out

    def flows(  # noqa: C901 (one loop over pairs and protocols, kept flat for speed)
        self,
        sources: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
        protos: Sequence[str] = PROTOS,
        port: PortSet | None = None,
    ) -> Iterator[Flow]:
        """Every allowed flow, sorted by source, target and protocol."""
        intersections: dict[tuple[int, int], Access] = {}
        targets = sorted(targets or self.names)
        inbound_of = {dst: self.side(dst, "inbound") for dst in targets}
        outbound_of = {dst: self.side(dst, "outbound") for dst in targets} if "icmp" in protos else {}
        for src in sorted(sources or self.names):
            out = self.side(src, "outbound")
            into_src = self.side(src, "inbound")
            i = self.index[src]
            for dst in targets:
                if dst == src:
                    continue
                j = self.index[dst]
                inbound = inbound_of[dst][i]
                key = (id(out[j]), id(inbound))
                both = intersections.get(key)
                if both is None:
                    both = intersections[key] = out[j] & inbound
                for proto in protos:
                    if proto == "icmp":
                        if both.icmp:
                            yield Flow(src, dst, proto, ANY_PORT)
                        elif outbound_of[dst][i].icmp and (out[j].icmp or into_src[j].icmp):
                            yield Flow(src, dst, proto, ANY_PORT, after_icmp_from_dst=True)
                        continue
                    ports = both.tcp if proto == "tcp" else both.udp
                    if port is not None:
                        ports &= port
                    if ports:
                        yield Flow(src, dst, proto, ports)

    def explain(self, src: str, dst: str, proto: str, port: int | str | None) -> Verdict:
        peer_dst = self.node(dst).peer
        peer_src = self.node(src).peer
        return Verdict(
            src,
            dst,
            proto,
            port,
            self._side_verdict(src, "outbound", peer_dst, proto, port),
            self._side_verdict(dst, "inbound", peer_src, proto, port),
            proto == "icmp" and self.icmp_back_channel(src, dst),
        )

    def _side_verdict(
        self, name: str, direction: Direction, peer: Peer, proto: str, port: int | str | None
    ) -> SideVerdict:
        allowing: list[Located] = []
        rejecting: list[tuple[Located, str]] = []
        for loc in self.rules(name, direction):
            reason = loc.spec.why_not(peer, proto, port)
            if reason is None:
                allowing.append(loc)
            else:
                rejecting.append((loc, reason))
        return SideVerdict(name, direction, tuple(allowing), tuple(rejecting))


# What one host can open to another: (proto, ports, only after ICMP from the target) per flow.
Opens = tuple[tuple[str, PortSet, bool], ...]


def flow_matrix(engine: Reach, flows: Iterable[Flow]) -> list[list[Opens]]:
    """`flows` (as `Reach.flows` yields them, sorted by source and target) as a matrix indexed
    like `engine.nodes`: matrix[a][b] is every flow from a to b, () for none."""
    n = len(engine.nodes)
    matrix: list[list[Opens]] = [[()] * n for _ in range(n)]
    for (src, dst), group in itertools.groupby(flows, key=lambda f: (f.src, f.dst)):
        matrix[engine.index[src]][engine.index[dst]] = tuple(
            (f.proto, f.ports, f.after_icmp_from_dst) for f in group
        )
    return matrix


def twin_classes(matrix: Sequence[Sequence[Hashable]], start: Sequence[Hashable]) -> list[list[int]]:
    """Hosts (0..n-1) in the fewest classes such that every pair of classes is uniform: every
    host of one class stands in the same relation (`matrix[a][b]`, the diagonal ignored) to every
    other host of the other, and of its own; hosts of a class also share their `start` key.

    Two hosts can share a class of such a partition only if they are twins: the same relation
    towards and from every third host, and the same towards each other both ways. Twins are an
    equivalence (if a, b and b, c are twins, so are a, c), and the twin classes are uniform, so
    they are that partition: each host joins the first class whose first host is its twin.
    `graph` draws its boxes from them and `reach --classes` lists its rows."""
    n = len(matrix)
    rows = [tuple(row) for row in matrix]
    cols = [tuple(matrix[i][j] for i in range(n)) for j in range(n)]

    def twins(a: int, b: int) -> bool:
        if matrix[a][b] != matrix[b][a]:
            return False
        lo, hi = min(a, b), max(a, b)
        return all(
            x[:lo] == y[:lo] and x[lo + 1 : hi] == y[lo + 1 : hi] and x[hi + 1 :] == y[hi + 1 :]
            for x, y in ((rows[a], rows[b]), (cols[a], cols[b]))
        )

    alike: dict[Hashable, list[list[int]]] = {}
    for i in range(n):
        found = alike.setdefault(start[i], [])
        home = next((c for c in found if twins(c[0], i)), None)
        if home is None:
            found.append([i])
        else:
            home.append(i)
    return sorted(c for group in alike.values() for c in group)


@dataclass(frozen=True)
class HostClass:
    """Hosts the listed flows treat alike: `name` is the first and how many more."""

    name: str
    hosts: tuple[str, ...]
    groups: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "hosts": list(self.hosts), "groups": list(self.groups)}


def by_class(engine: Reach, flows: Iterable[Flow]) -> tuple[list[HostClass], list[Flow]]:
    """The flows between classes of hosts instead of hosts: each flow listed between two classes
    holds for every host of the first towards every other host of the second, and no other flow
    does (`twin_classes`; hosts of a class also share their groups)."""
    matrix = flow_matrix(engine, flows)
    found = twin_classes(matrix, [node.groups for node in engine.nodes])
    classes = [
        HostClass(
            engine.names[c[0]] + (f"+{len(c) - 1}" if len(c) > 1 else ""),
            tuple(engine.names[i] for i in c),
            tuple(sorted(engine.nodes[c[0]].groups)),
        )
        for c in found
    ]
    between = []
    for a, ca in enumerate(found):
        for b, cb in enumerate(found):
            other = next((j for j in cb if j != ca[0]), None)
            if other is None:
                continue  # a class of one host, towards itself
            between += [
                Flow(classes[a].name, classes[b].name, proto, ports, after)
                for proto, ports, after in matrix[ca[0]][other]
            ]
    return classes, between


def _union(sets: Iterable[PortSet]) -> PortSet:
    result = NO_PORT
    for ports in sets:
        result |= ports
    return result


# --- text ------------------------------------------------------------------------------


def parse_packet(text: str) -> tuple[str, int | str | None]:
    """`tcp/22`, `udp/53`, `icmp`, `tcp/fragment` -> (proto, port)."""
    proto, _, port = text.strip().lower().partition("/")
    if proto not in PROTOS:
        raise UserError(f"{text!r}: protocol must be one of {', '.join(PROTOS)} (e.g. tcp/22, icmp)")
    if proto == "icmp":
        if port:
            raise UserError(f"{text!r}: ICMP has no ports; write icmp")
        return proto, None
    if port == "fragment":
        return proto, port
    if not port.isdigit() or not PORT_MIN <= int(port) <= PORT_MAX:
        raise UserError(f"{text!r}: expected {proto}/PORT with a port within 1-65535")
    return proto, int(port)


def parse_port_filter(text: str) -> PortSet:
    """--port: `22`, `8000-8100`, `fragment`."""
    value = text.strip()
    if value == "fragment":
        return PortSet(fragment=True)
    low, _, high = value.partition("-")
    if low.isdigit() and (not high or high.isdigit()):
        start, end = int(low), int(high or low)
        if PORT_MIN <= start <= end <= PORT_MAX:
            return PortSet.of([(start, end)])
    raise UserError(f"--port {text!r}: expected a port or a range within 1-65535, or fragment")


def table(flows: Iterable[Flow]) -> str:
    rows = [("FROM", "TO", "PROTO", "PORTS")]
    notes = False
    for flow in flows:
        ports = "-" if flow.proto == "icmp" else str(flow.ports)
        if flow.after_icmp_from_dst:
            ports, notes = "(after icmp from TO) *", True
        rows.append((flow.src, flow.dst, flow.proto, ports))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3] for r in rows]
    if len(rows) == 1:
        lines.append("(no allowed flows)")
    if notes:
        lines.append(
            "* nebula's conntrack keys ICMP without an id: after TO sent any ICMP to FROM, "
            "FROM's ICMP gets into TO for conntrack.default_timeout (docs/reach.md)"
        )
    return "\n".join(lines) + "\n"


def classes_text(classes: Sequence[HostClass]) -> str:
    """What each class name in a `--classes` table stands for."""
    lines = [
        f"{len(classes)} classes of hosts the flows below treat alike; a row holds for every host of FROM"
    ]
    lines.append("towards every other host of TO:")
    for c in classes:
        groups = f" (groups: {', '.join(c.groups)})" if c.groups else ""
        lines.append(
            f"  {c.name}: {' '.join(c.hosts)}{groups}" if len(c.hosts) > 1 else f"  {c.name}{groups}"
        )
    return "\n".join(lines) + "\n"


def explain_text(verdict: Verdict) -> str:
    head = f"{verdict.src} -> {verdict.dst} {verdict.packet}: {'allowed' if verdict.allowed else 'denied'}"
    lines = [head]
    for side in (verdict.outbound, verdict.inbound):
        what = f"  {side.direction} on {side.host}:"
        if side.allowing:
            lines.append(f"{what} allowed by")
            lines += [f"    {loc.where}  {loc.text()}" for loc in side.allowing]
        else:
            lines.append(f"{what} denied: no rule matches" + ("" if side.rejecting else " (no rules)"))
            lines += [f"    {loc.where}  {loc.text()}: {reason}" for loc, reason in side.rejecting]
    if verdict.icmp_back_channel:
        lines.append(
            f"  but: once {verdict.dst} sent ICMP to {verdict.src}, nebula's conntrack lets this through "
            "for conntrack.default_timeout (ICMP is tracked without an id)"
        )
    elif verdict.allowed:
        lines.append("  replies pass by connection tracking")
    return "\n".join(lines) + "\n"


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    def side(s: SideVerdict) -> dict[str, Any]:
        return {
            "host": s.host,
            "allowed": s.allowed,
            "allowing": [{"at": str(loc.where), "rule": loc.rule.as_dict()} for loc in s.allowing],
            "rejecting": [
                {"at": str(loc.where), "rule": loc.rule.as_dict(), "reason": why} for loc, why in s.rejecting
            ],
        }

    return {
        "from": verdict.src,
        "to": verdict.dst,
        "proto": verdict.proto,
        "port": verdict.port,
        "allowed": verdict.allowed,
        "outbound": side(verdict.outbound),
        "inbound": side(verdict.inbound),
        "icmp_back_channel": verdict.icmp_back_channel,
    }


# --- rules people get wrong ------------------------------------------------------------


def covers(a: RuleSpec, b: RuleSpec) -> bool:
    """Every packet rule `b` lets through, rule `a` lets through too (for any network).

    Read from the rules alone: `a`'s proto, ports and CA take in `b`'s, and every peer
    alternative of `b` (host, groups, cidr) is inside one of `a`'s."""
    if a.proto not in {"any", b.proto}:
        return False
    protos = PROTOS if b.proto == "any" else (b.proto,)
    if any(not a.ports_for(p).covers(b.ports_for(p)) for p in protos):
        return False
    if a.uses_ca and not (
        b.uses_ca
        and (b.ca_name is None or b.ca_name == a.ca_name)
        and (b.ca_sha is None or b.ca_sha == a.ca_sha)
    ):
        return False
    if a.anyone:
        return True
    if b.anyone:
        return False
    alternatives_ok = [
        b.groups is None or (a.groups is not None and a.groups <= b.groups),
        b.host is None or b.host == a.host,
        b.cidr is None or (a.cidr is not None and b.cidr.subnet_of(a.cidr)),
    ]
    return all(alternatives_ok)


@dataclass(frozen=True)
class Redundant:
    """A rule that adds nothing to its side: `earlier` already lets all of it through."""

    rule: Located
    earlier: Located
    duplicate: bool  # the same rule, not merely a wider one


def redundant(rules: Sequence[Located]) -> Iterator[Redundant]:
    """Duplicate and shadowed rules of one side (defaults first, then the host's own)."""
    specs = [(loc, _spec_or_none(loc)) for loc in rules]
    for j, (later, b) in enumerate(specs):
        if b is None or not any(b.ports_for(p) for p in PROTOS):
            continue  # unreadable or matching nothing: other checks say so
        for earlier, a in specs[:j]:
            if a is None:
                continue
            if a == b:
                yield Redundant(later, earlier, duplicate=True)
                break
            if covers(a, b):
                yield Redundant(later, earlier, duplicate=False)
                break


def _spec_or_none(loc: Located) -> RuleSpec | None:
    try:
        return loc.spec
    except ValueError:  # a bad cidr or port: its own check reports it
        return None


def never_held(rule: RuleSpec, holders: Iterable[frozenset[str]]) -> bool:
    """A `groups` combination that no host's certificate holds all of (each group alone does
    exist; a group nobody has is rule-unknown-group's): it can never match by its groups."""
    if rule.groups is None or len(rule.groups) < 2 or "any" in rule.groups:
        return False
    held = set(holders)
    if not rule.groups <= frozenset().union(*held):
        return False
    return not any(rule.groups <= h for h in held)


def lint(engine: Reach) -> list[tuple[str, Diagnostic]]:  # noqa: C901 (four checks, one walk)
    """Rules that can never match (errors) and rules that add nothing (warnings), located,
    each with the id of the check that reports it (cryptic_net.checks.reach).

    Errors: a `groups` combination no host holds all of (rule-groups-never-held), an ICMP
    rule with a port (rule-icmp-port: nebula 1.10 never matches it). Warnings: a rule equal
    to an earlier one on the same side (rule-duplicate) or fully covered by one
    (rule-shadowed): nebula's rules only allow, so these change nothing, but they mislead
    whoever edits the wider rule later. A network default is reported once, not per host."""
    from cryptic_net.errors import Diagnostic  # noqa: PLC0415

    holders = {n.groups for n in engine.nodes}  # distinct group sets: few, whatever the size
    never: dict[RuleSpec, bool] = {}
    found: dict[tuple[str, str, str], tuple[str, Diagnostic]] = {}

    def add(check_id: str, loc: Located, message: str) -> None:
        where = loc.where
        severity: Literal["error", "warning"] = (
            "warning" if check_id in {"rule-duplicate", "rule-shadowed"} else "error"
        )
        diag = Diagnostic(where.file, where.line, where.col, where.path, message, severity)
        found.setdefault((where.file, where.path, check_id), (check_id, diag))

    for node in engine.nodes:
        for side in (node.inbound, node.outbound):
            for loc in side:
                rule = _spec_or_none(loc)
                if rule is None:
                    continue
                if rule not in never:
                    never[rule] = never_held(rule, holders)
                if never[rule]:
                    groups = ", ".join(sorted(rule.groups or ()))
                    add(
                        "rule-groups-never-held",
                        loc,
                        f"no host holds all of the groups {groups}: this rule "
                        "never matches by its groups (groups means all of them)",
                    )
                if rule.proto == "icmp" and not rule.ports.is_any:
                    add(
                        "rule-icmp-port",
                        loc,
                        "ICMP has no ports: nebula 1.10 never matches an ICMP rule "
                        "with a port; write port: any",
                    )
            for item in redundant(side):
                earlier = f"{item.earlier.where.file}:{item.earlier.where.line} {item.earlier.text()}"
                if item.duplicate:
                    add("rule-duplicate", item.rule, f"the same as {earlier}: drop one")
                else:
                    add("rule-shadowed", item.rule, f"already covered by {earlier}: drop one or narrow it")
    return sorted(found.values(), key=lambda pair: pair[1])
