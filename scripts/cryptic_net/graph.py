"""A picture of the network: hosts, lighthouses, relays, groups and the allowed flows.

We write DOT and let Graphviz (`dot`) lay it out and draw it: layout is the hard part of
drawing a graph, and Graphviz is the well-kept tool for it (Debian `graphviz`, nixpkgs
`graphviz`). The DOT text is ours and deterministic (sorted, no timestamps); the same `dot`
version then draws the same SVG bytes. Every string in the DOT comes from a validated name
and is quoted and escaped anyway.

A large network is drawn as classes of hosts the rules treat alike (`classes`): an arrow
between two boxes then holds for every host of one towards every host of the other
(docs/reach.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptic_net import reach
from cryptic_net.errors import UserError

if TYPE_CHECKING:
    from pathlib import Path

    from cryptic_net.inventory import Host, Inventory

DOT_TIMEOUT = 60
FLOW_COLOUR = "#1f6fb4"
LIGHTHOUSE_COLOUR = "#f2c14e"
RELAY_COLOUR = "#8fbf6a"
HOST_COLOUR = "#e8eef5"


# `--nodes auto` draws classes of hosts above this many hosts: Graphviz lays out a few dozen
# nodes in a second, and never finishes a thousand hosts with their million flows.
AUTO_HOSTS = 40
# Beyond these a picture is neither drawn in a minute nor read by anyone. Measured with Graphviz
# 2.43 on random graphs of labelled arrows (2 cores): 30 boxes and 400 arrows 3.5 s, 40 and 600
# 21 s, 40 and 1,500 more than 120 s; 200 boxes and 300 arrows 0.8 s.
MAX_BOXES = 150
MAX_ARROWS = 400


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _label(flows: list[reach.Flow]) -> str:
    ordered = sorted(flows, key=lambda f: reach.PROTOS.index(f.proto))
    return "\n".join("icmp" if f.proto == "icmp" else f"{f.proto} {f.ports}" for f in ordered)


def _label_of(members: list[Host]) -> str:
    """One host: its name and address; several: how many and the first names. Then the roles
    and groups they share (a class shares them, `classes`)."""
    first = members[0]
    if len(members) == 1:
        lines = [first.name, str(first.ip)]
    else:
        names = ", ".join(h.name for h in members[:3]) + (", ..." if len(members) > 3 else "")
        lines = [f"{len(members)} hosts", names]
    roles = [r for r, on in (("lighthouse", first.is_lighthouse), ("relay", first.relay)) if on]
    if roles:
        lines.append(" + ".join(roles))
    if first.groups:
        lines.append("groups: " + ", ".join(sorted(first.groups)))
    return "\n".join(lines)


def _title(inv: Inventory, merged: bool) -> str:
    title = (
        f"network {inv.network.name} ({inv.network.cidr})\n"
        "blue: allowed flows, arrow towards the host that accepts them; replies pass too\n"
        "dashed: lighthouse a host asks; dotted: relay; yellow: lighthouse, green: relay"
    )
    if merged:
        title += (
            "\none box: hosts the rules treat alike; an arrow holds for every host of one box"
            " towards every other host of the other"
        )
    return title


# What one host is to another, as one small number per ordered pair: the flows it can open, and
# whether it asks the other as a lighthouse and the other relays for it.
Relation = tuple[str, bool, bool]


@dataclass(frozen=True)
class Pairs:
    hosts: list[Host]  # sorted by name
    matrix: list[list[int]]  # matrix[a][b]: index into `relations`; -1 on the diagonal
    relations: list[Relation]


def pairs(inv: Inventory) -> Pairs:
    """Every ordered pair of hosts and what it allows (`reach`'s flows, without those that need
    ICMP from the target first), with the lighthouses and relays each host uses."""
    engine = reach.Reach.of(inv)
    opens = reach.flow_matrix(engine, (f for f in engine.flows() if not f.after_icmp_from_dst))
    by_name = {h.name: h for h in inv.hosts}
    hosts = [by_name[name] for name in engine.names]  # sorted by name, as the engine's
    labels: dict[reach.Opens, str] = {}
    numbers: dict[Relation, int] = {}
    matrix = []
    for a, host in enumerate(hosts):
        lighthouses, relays = set(host.lighthouses), set(host.relays)
        row = []
        for b, other in enumerate(hosts):
            if b == a:
                row.append(-1)
                continue
            flows = opens[a][b]
            label = labels.get(flows)
            if label is None:
                label = labels[flows] = _label(
                    [reach.Flow("", "", proto, ports) for proto, ports, _ in flows]
                )
            relation = (label, other.name in lighthouses, other.name in relays)
            row.append(numbers.setdefault(relation, len(numbers)))
        matrix.append(row)
    return Pairs(hosts, matrix, list(numbers))


def classes(p: Pairs) -> list[list[int]]:
    """The fewest boxes such that each arrow holds for every host of its boxes, and the hosts of
    a box share their groups and roles (for its label): `reach.twin_classes`."""
    return reach.twin_classes(p.matrix, [(frozenset(h.groups), h.is_lighthouse, h.relay) for h in p.hosts])


@dataclass(frozen=True)
class Drawing:
    text: str  # DOT
    boxes: int
    arrows: int


def dot(inv: Inventory, nodes: str = "auto") -> str:
    """The DOT source: one node per host (or per class of hosts, `classes`), one edge per allowed
    flow (both ways when equal), dashed edges to the lighthouses and dotted ones from the relays
    each host uses."""
    return drawing(inv, nodes).text


def drawing(inv: Inventory, nodes: str = "auto") -> Drawing:
    """`dot`, with how many boxes and arrows it has."""
    p = pairs(inv)
    merged = nodes == "class" or (nodes == "auto" and len(p.hosts) > AUTO_HOSTS)
    groups = classes(p) if merged else [[i] for i in range(len(p.hosts))]
    lines = [
        f"digraph {_q(inv.network.name)} {{",
        "  graph [rankdir=LR, fontname=Helvetica, fontsize=12, nodesep=0.6, ranksep=1.2, pad=0.3,",
        f"         label={_q(_title(inv, merged))}, labelloc=t];",
        (
            '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=11,'
            f" fillcolor={_q(HOST_COLOUR)}];"
        ),
        "  edge [fontname=Helvetica, fontsize=10];",
    ]
    # A class is named after its first host; what a pair of classes is to each other is what any
    # host of one is to any other host of the other (uniform, `classes`).
    name = [p.hosts[g[0]].name for g in groups]
    relation: dict[tuple[int, int], Relation] = {}
    for a, ga in enumerate(groups):
        for b, gb in enumerate(groups):
            i, j = ga[0], next((j for j in gb if j != ga[0]), None) if a == b else gb[0]
            if j is not None:
                relation[a, b] = p.relations[p.matrix[i][j]]
    for a, g in enumerate(groups):
        first = p.hosts[g[0]]
        fill = LIGHTHOUSE_COLOUR if first.is_lighthouse else RELAY_COLOUR if first.relay else HOST_COLOUR
        lines.append(
            f"  {_q(name[a])} [label={_q(_label_of([p.hosts[i] for i in g]))}, fillcolor={_q(fill)}"
            # Every member, for a box of several (an SVG viewer shows it on hover).
            + (f", tooltip={_q(' '.join(p.hosts[i].name for i in g))}" if len(g) > 1 else "")
            + "];"
        )
    done: set[tuple[int, int]] = set()
    for (a, b), (label, _, _) in sorted(relation.items(), key=lambda kv: (name[kv[0][0]], name[kv[0][1]])):
        if not label or (a, b) in done:
            continue
        both = a != b and relation.get((b, a), ("",))[0] == label
        if both:
            done.add((b, a))
        lines.append(
            f"  {_q(name[a])} -> {_q(name[b])} [label={_q(label)},{' dir=both,' if both else ''}"
            f" color={_q(FLOW_COLOUR)}, fontcolor={_q(FLOW_COLOUR)}];"
        )
    towards: dict[int, list[tuple[str, Relation]]] = defaultdict(list)
    for (a, b), rel in relation.items():
        towards[a].append((name[b], rel))
    for a in range(len(groups)):
        ordered = sorted(towards[a], key=lambda t: t[0])
        lines.extend(
            f"  {_q(name[a])} -> {_q(other)} [style=dashed, color=gray50, fontcolor=gray40,"
            ' label="finds peers via", constraint=false];'
            for other, rel in ordered
            if rel[1]
        )
        lines.extend(
            f"  {_q(other)} -> {_q(name[a])} [style=dotted, color=gray30, fontcolor=gray30,"
            ' label="relays for", constraint=false];'
            for other, rel in ordered
            if rel[2]
        )
    lines.append("}")
    boxes = len(groups)
    arrows = sum(line.startswith("  ") and " -> " in line for line in lines)
    return Drawing("\n".join(lines) + "\n", boxes, arrows)


def svg(inv: Inventory, nodes: str = "auto") -> str:
    """The picture, drawn by Graphviz's `dot`; refused when too large to draw or to read."""
    drawn = drawing(inv, nodes)
    if drawn.boxes > MAX_BOXES or drawn.arrows > MAX_ARROWS:
        merged = " even with the hosts the rules treat alike merged" if nodes != "host" else ""
        raise UserError(
            f"{drawn.boxes} boxes and {drawn.arrows} arrows{merged}: too many for one picture "
            f"(at most {MAX_BOXES} and {MAX_ARROWS}: Graphviz takes minutes beyond). `--format dot` "
            "writes the source anyway; `reach --from HOST` or `--to HOST` lists one host's flows"
        )
    program = shutil.which("dot")
    if program is None:
        raise UserError(
            "graphviz's dot is not on PATH (Debian: apt install graphviz); --format dot needs none"
        )
    try:
        result = subprocess.run(
            [program, "-Tsvg"],
            input=drawn.text,
            capture_output=True,
            text=True,
            timeout=DOT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise UserError(f"dot did not finish within {DOT_TIMEOUT} s") from None
    if result.returncode != 0:
        raise UserError(
            f"dot failed: {result.stderr.strip().splitlines()[-1] if result.stderr else result.returncode}"
        )
    return result.stdout


def write(path: Path, text: str) -> None:
    """Write atomically: a temporary file beside `path`, then a rename (never half a file)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # noqa: PTH101 (the temporary file by name)
        os.replace(tmp, path)  # noqa: PTH105
    except BaseException:
        os.unlink(tmp)  # noqa: PTH108
        raise
