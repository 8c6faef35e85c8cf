#!/usr/bin/env python3
"""How long `reach` takes to compute the whole matrix of a large network.

Builds networks of N hosts in memory (no certificates: the engine reads only names, groups,
addresses and rules), shaped like real ones: network defaults (outbound open, ICMP in), and
per host one to three inbound rules over groups, `groups` pairs, a host or a cidr, with
single ports and ranges. Then times, per N: building the engine, every allowed flow of every
ordered pair (the full matrix, as `cryptic-net reach` prints it), and the firewall lint.
Prints a table with the date and machine.

    .venv/bin/python bench/reach_scale.py [--sizes 100,300,1000]
"""

from __future__ import annotations

import argparse
import ipaddress
import platform
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from cryptic_net import reach  # noqa: E402
from cryptic_net.inventory import Rule  # noqa: E402

GROUPS = [f"g{i}" for i in range(20)]


def _rule(**raw: object) -> Rule:
    return Rule((("port", raw.pop("port", "any")), ("proto", raw.pop("proto", "any")), *raw.items()))


def network(size: int, seed: int = 1) -> list[reach.Node]:
    rnd = random.Random(seed)  # noqa: S311 (benchmark data, not security)
    names = [f"h{i:04d}" for i in range(size)]
    defaults_out = (_rule(host="any"),)
    defaults_in = (_rule(proto="icmp", host="any"),)
    nodes = []
    for i, name in enumerate(names):
        inbound = []
        for _ in range(rnd.randint(1, 3)):
            port = rnd.choice([22, 80, 443, "8000-8100", "any", "5000-5999"])
            proto = rnd.choice(["tcp", "udp", "any"])
            who = rnd.choice(
                [
                    {"group": rnd.choice(GROUPS)},
                    {"groups": rnd.sample(GROUPS, 2)},
                    {"host": rnd.choice(names)},
                    {"cidr": f"10.64.{rnd.randint(0, 63)}.0/24"},
                ]
            )
            inbound.append(_rule(port=port, proto=proto, **who))

        def located(rules: tuple[Rule, ...], side: str, name: str = name) -> tuple[reach.Located, ...]:
            return tuple(
                reach.Located(r, f"hosts/{name}.yml", f"$.firewall.{side}[{j}]") for j, r in enumerate(rules)
            )

        nodes.append(
            reach.Node(
                name,
                ipaddress.IPv4Address("10.64.0.0") + i + 1,
                frozenset(rnd.sample(GROUPS, rnd.randint(1, 3))),
                located(defaults_in + tuple(inbound), "inbound"),
                located(defaults_out, "outbound"),
            )
        )
    return nodes


def measure(size: int) -> tuple[int, float, float, float, int]:
    nodes = network(size)
    start = time.perf_counter()
    engine = reach.Reach(nodes)
    built = time.perf_counter()
    flows = sum(1 for _ in engine.flows())
    matrix = time.perf_counter()
    problems = len(reach.lint(engine))
    linted = time.perf_counter()
    return size, built - start, matrix - built, linted - matrix, flows + 0 * problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,1000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    machine = platform.processor() or platform.machine()
    print(f"reach scale, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {machine}")
    print(f"python {platform.python_version()}")
    print()
    print(f"{'hosts':>6}  {'pairs':>9}  {'build s':>8}  {'matrix s':>9}  {'lint s':>7}  {'flows':>9}")
    for size in sizes:
        n, build, matrix, lint, flows = measure(size)
        print(f"{n:>6}  {n * (n - 1):>9}  {build:>8.3f}  {matrix:>9.3f}  {lint:>7.3f}  {flows:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
