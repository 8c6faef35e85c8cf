"""A restarted host is reachable again within 5 s (issue 14).

beta pings alpha's overlay address every 0.2 s while alpha's nebula is SIGKILLed (its
supervisor starts it again after 1 s), and, separately, while alpha's whole AppImage is
stopped and started again, as systemd would. The longest time without a reply must stay at
most 5 s. What makes it so is the fixed listen port (README, "Recovery"): the restarted nebula
gets the peer's packets on the old tunnel and answers with recv_error, and the peer
handshakes again at once.

The SIGKILL case measures nebula's recovery; the supervisor that restarts it is the AppImage's
bin/pmux, which is the real pmux when the session has one (the session says which).
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

import netns
import pytest
from conftest import (
    Build,
    Pinger,
    network_up,
    overlay_ping,
    pids_named,
    run_mode,
    start,
    stop,
    wait_up,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.root, pytest.mark.integration]

LIMIT = 5.0


def _tunnel(src: str, dst: str) -> None:
    netns.wait_until(f"{src} -> {dst} overlay ping", lambda: overlay_ping(src, dst), timeout=20, interval=0.2)


def test_peer_reaches_a_host_whose_nebula_was_killed_within_5s(
    builds: dict[str, Build], lab: netns.Lab, session_dir: Path
) -> None:
    with network_up(builds, lab, session_dir, "-killed") as hosts:
        _tunnel("beta", "alpha")
        pinger = Pinger("beta", "alpha")
        try:
            pinger.wait_reply_after(time.time(), timeout=10)
            time.sleep(1)
            old = pids_named("alpha", "nebula")
            assert len(old) == 1, old
            killed = time.time()
            os.kill(old[0], signal.SIGKILL)
            netns.wait_until(
                "nebula restarted", lambda: (new := pids_named("alpha", "nebula")) and new != old, timeout=10
            )
            back = pinger.wait_reply_after(killed, timeout=20)
            time.sleep(2)  # replies keep coming: not a single lucky one
            end = time.time()
        finally:
            pinger.stop()
        gap, since = pinger.longest_gap(killed - 1, end)
        print(f"nebula SIGKILL: first reply after {back - killed:.2f}s, longest gap {gap:.2f}s")
        assert gap <= LIMIT, f"no reply for {gap:.2f}s from {since - killed:+.2f}s after the kill"
        assert hosts["alpha"].proc.poll() is None


def test_peer_reaches_a_restarted_appimage_within_5s(
    builds: dict[str, Build], lab: netns.Lab, session_dir: Path
) -> None:
    with network_up(builds, lab, session_dir, "-restarted") as hosts:
        _tunnel("beta", "alpha")
        pinger = Pinger("beta", "alpha")
        try:
            pinger.wait_reply_after(time.time(), timeout=10)
            time.sleep(1)
            stopped = time.time()
            took = stop(hosts["alpha"])  # SIGTERM, as systemctl stop/restart sends it
            hosts["alpha"] = start(builds["alpha"], run_mode(), session_dir, "-restarted-2")
            wait_up(hosts["alpha"], lab)
            back = pinger.wait_reply_after(stopped, timeout=20)
            time.sleep(2)
            end = time.time()
        finally:
            pinger.stop()
        gap, since = pinger.longest_gap(stopped - 1, end)
        print(
            f"AppImage restart: stop took {took:.2f}s, first reply after {back - stopped:.2f}s, "
            f"longest gap {gap:.2f}s"
        )
        assert gap <= LIMIT, f"no reply for {gap:.2f}s from {since - stopped:+.2f}s after the stop"
