"""What the start-up benchmarks watch for in their network namespaces, defined once.

The example network's addresses, the first moment a check succeeds (polled every 10 ms, up to a
deadline), an overlay ping, a DNS answer from a host's dnsmasq, and a bundle's peak memory.
Used by bench/bench.py and bench/multiarch.py.
"""

# ruff: noqa: INP001 (a script directory, imported by the benchmarks)
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

import netns

if TYPE_CHECKING:
    from collections.abc import Callable

# The example network in the namespaces: underlay (veth) and overlay addresses.
UNDERLAY = {"lighthouse": "192.0.2.1", "alpha": "192.0.2.2", "beta": "192.0.2.3"}
OVERLAY = {"lighthouse": "10.42.0.1", "alpha": "10.42.0.2", "beta": "10.42.0.3"}


def first_success(
    check: Callable[[], bool], t0: float, timeout: float, out: dict[str, float], key: str
) -> None:
    """out[key] = seconds from t0 to the first time `check` holds (absent if it never does)."""
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        if check():
            out[key] = time.monotonic() - t0
            return
        time.sleep(0.01)


def ping_ok(source: str, target: str, timeout: float) -> bool:
    """One ping process sending every 10 ms until the first reply: a `ping -c1 -W1` loop would
    measure its own 1 s timeouts while the tunnel is being set up."""
    argv = netns.ns_exec(
        source, ["ping", "-n", "-q", "-c1", "-i", "0.01", "-w", str(int(timeout)), OVERLAY[target]]
    )
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def dns_ok(host: str, name: str) -> bool:
    """`host`'s dnsmasq answers `name`.example.internal with that host's overlay address."""
    argv = netns.ns_exec(
        host, ["dig", f"@{OVERLAY[host]}", "+short", "+time=1", "+tries=1", f"{name}.example.internal"]
    )
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip() == OVERLAY[name]


def hwm_kib(pid: int) -> int:
    """A process's peak resident memory (VmHWM), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
