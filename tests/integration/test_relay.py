"""Relays take over quickly, and traffic goes back to the direct path when it returns (issue 14).

In namespaces: beta pings alpha every 0.2 s; the direct underlay path between them dies (a
blackhole route for each other's underlay address in both namespaces; the lighthouse stays
reachable). beta must reach alpha again through alpha's relay (the lighthouse, `relays:
[lighthouse]` in hosts/alpha.yml) within 10 s. The rendered `timers` make nebula notice the
dead path that fast (scripts/cryptic_net/render.py says why). That the traffic goes through the
relay, and later does not, shows on the lighthouse's underlay packet counter: a relayed ping
crosses it twice each way.

When the path comes back, a relayed tunnel probes the direct addresses every
`counters.try_promote` packets (100, rendered): beta sends a burst of pings, after which the
lighthouse must no longer see the ping traffic.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

import netns
import pytest
from conftest import UNDERLAY, Build, Pinger, network_up, overlay_ping, underlay_packets

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.root, pytest.mark.integration]

LIMIT = 10.0
WINDOW = 2.0  # seconds of 0.2 s pings (10 echo requests) per traffic measurement


@contextlib.contextmanager
def direct_path_cut(a: str, b: str) -> Iterator[None]:
    routes = [(a, UNDERLAY[b]), (b, UNDERLAY[a])]
    try:
        for host, addr in routes:
            netns.run(["ip", "-n", netns.ns_name(host), "route", "add", "blackhole", f"{addr}/32"])
        yield
    finally:
        for host, addr in routes:
            netns.run(
                ["ip", "-n", netns.ns_name(host), "route", "del", "blackhole", f"{addr}/32"], check=False
            )


def lighthouse_packets_during(pinger: Pinger, seconds: float) -> tuple[int, int]:
    """Packets the lighthouse received while `pinger` got how many replies, over `seconds`."""
    before, replies = underlay_packets("lighthouse"), len(pinger.replies())
    time.sleep(seconds)
    return underlay_packets("lighthouse") - before, len(pinger.replies()) - replies


def burst(src: str, dst_ip: str, count: int) -> None:
    netns.run(
        netns.ns_exec(src, ["ping", "-q", "-n", "-i", "0.01", "-W", "1", "-c", str(count), dst_ip]),
        check=False,
        timeout=30,
    )


def direct_path_in_use(pinger: Pinger) -> tuple[int, int] | None:
    """Whether the pings go straight to alpha: after a burst (to let try_promote probe the
    direct path, in case the tunnel came up or stayed relayed) the lighthouse must see fewer
    packets than beta gets replies. Bounded: 3 bursts of 150 pings (1.5 s each)."""
    for _ in range(3):
        seen, got = lighthouse_packets_during(pinger, WINDOW)
        if got >= 5 and seen < got:
            return None
        burst("beta", "10.42.0.2", 150)
    return seen, got


def test_relay_takes_over_within_10s_and_the_direct_path_comes_back(
    builds: dict[str, Build], lab: netns.Lab, session_dir: Path
) -> None:
    with network_up(builds, lab, session_dir, "-relay"):
        netns.wait_until("beta -> alpha", lambda: overlay_ping("beta", "alpha"), timeout=20, interval=0.2)
        pinger = Pinger("beta", "alpha")
        try:
            pinger.wait_reply_after(time.time(), timeout=10)
            time.sleep(1)
            # The first handshake goes out directly and through the relay at once: either
            # may win, so the tunnel may start relayed.
            not_direct = direct_path_in_use(pinger)
            assert not_direct is None, "before the cut: the lighthouse saw {} packets for {} replies".format(
                *not_direct
            )

            with direct_path_cut("alpha", "beta"):
                cut = time.time()
                back = pinger.wait_reply_after(cut, timeout=30)
                took = back - cut
                print(f"relay: first reply {took:.2f}s after the direct path died")
                time.sleep(0.5)
                relayed, got = lighthouse_packets_during(pinger, WINDOW)
                gap, _ = pinger.longest_gap(cut, time.time())
                # A relayed echo crosses the lighthouse twice inbound (request, reply).
                assert got >= 5, f"only {got} replies in {WINDOW}s through the relay"
                assert relayed >= 2 * got, f"relayed: the lighthouse saw {relayed} packets for {got} replies"
                assert gap <= LIMIT, f"no reply for {gap:.2f}s after the direct path died"

            # The path is back: after at most a few try_promote rounds the lighthouse no longer
            # carries the pings.
            still_relayed = direct_path_in_use(pinger)
            assert still_relayed is None, "path back: the lighthouse saw {} packets for {} replies".format(
                *still_relayed
            )
        finally:
            pinger.stop()
