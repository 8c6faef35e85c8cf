"""A picture of the network: hosts, lighthouses, relays, groups and the allowed flows.

We write DOT and let Graphviz (`dot`) lay it out and draw it: layout is the hard part of
drawing a graph, and Graphviz is the well-kept tool for it (Debian `graphviz`, nixpkgs
`graphviz`). The DOT text is ours and deterministic (sorted, no timestamps); the same `dot`
version then draws the same SVG bytes. Every string in the DOT comes from a validated name
and is quoted and escaped anyway.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import defaultdict
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


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _label(flows: list[reach.Flow]) -> str:
    ordered = sorted(flows, key=lambda f: reach.PROTOS.index(f.proto))
    return "\n".join("icmp" if f.proto == "icmp" else f"{f.proto} {f.ports}" for f in ordered)


def _host_label(host: Host) -> str:
    roles = [r for r, on in (("lighthouse", host.is_lighthouse), ("relay", host.relay)) if on]
    lines = [host.name, str(host.ip)]
    if roles:
        lines.append(" + ".join(roles))
    if host.groups:
        lines.append("groups: " + ", ".join(sorted(host.groups)))
    return "\n".join(lines)


def _title(inv: Inventory) -> str:
    return (
        f"network {inv.network.name} ({inv.network.cidr})\n"
        "blue: allowed flows, arrow towards the host that accepts them; replies pass too\n"
        "dashed: lighthouse a host asks; dotted: relay; yellow: lighthouse, green: relay"
    )


def dot(inv: Inventory) -> str:
    """The DOT source: one node per host, one edge per allowed flow (both ways when equal),
    dashed edges to the lighthouses and relays each host uses."""
    engine = reach.Reach.of(inv)
    by_pair: dict[tuple[str, str], list[reach.Flow]] = defaultdict(list)
    for flow in engine.flows():
        if not flow.after_icmp_from_dst:
            by_pair[flow.src, flow.dst].append(flow)
    lines = [
        f"digraph {_q(inv.network.name)} {{",
        "  graph [rankdir=LR, fontname=Helvetica, fontsize=12, nodesep=0.6, ranksep=1.2, pad=0.3,",
        f"         label={_q(_title(inv))}, labelloc=t];",
        (
            '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=11,'
            f" fillcolor={_q(HOST_COLOUR)}];"
        ),
        "  edge [fontname=Helvetica, fontsize=10];",
    ]
    for host in sorted(inv.hosts, key=lambda h: h.name):
        fill = LIGHTHOUSE_COLOUR if host.is_lighthouse else RELAY_COLOUR if host.relay else HOST_COLOUR
        lines.append(f"  {_q(host.name)} [label={_q(_host_label(host))}, fillcolor={_q(fill)}];")
    done: set[tuple[str, str]] = set()
    for (src, dst), flows in sorted(by_pair.items()):
        if (src, dst) in done:
            continue
        label = _label(flows)
        back = by_pair.get((dst, src))
        if back is not None and _label(back) == label:
            done.add((dst, src))
            lines.append(
                f"  {_q(src)} -> {_q(dst)} [label={_q(label)}, dir=both, color={_q(FLOW_COLOUR)},"
                f" fontcolor={_q(FLOW_COLOUR)}];"
            )
        else:
            lines.append(
                f"  {_q(src)} -> {_q(dst)} [label={_q(label)}, color={_q(FLOW_COLOUR)},"
                f" fontcolor={_q(FLOW_COLOUR)}];"
            )
    for host in sorted(inv.hosts, key=lambda h: h.name):
        lines.extend(
            f"  {_q(host.name)} -> {_q(name)} [style=dashed, color=gray50, fontcolor=gray40,"
            ' label="finds peers via", constraint=false];'
            for name in sorted(host.lighthouses)
        )
        lines.extend(
            f"  {_q(name)} -> {_q(host.name)} [style=dotted, color=gray30, fontcolor=gray30,"
            ' label="relays for", constraint=false];'
            for name in sorted(host.relays)
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def svg(inv: Inventory) -> str:
    """The picture, drawn by Graphviz's `dot`."""
    program = shutil.which("dot")
    if program is None:
        raise UserError(
            "graphviz's dot is not on PATH (Debian: apt install graphviz); --format dot needs none"
        )
    try:
        result = subprocess.run(
            [program, "-Tsvg"],
            input=dot(inv),
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
