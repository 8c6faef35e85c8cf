"""Network namespaces for the integration tests.

Layout: a namespace `cnt-br` holds only the bridge `br0`; each host namespace `cnt-<host>`
has `eth0` (a veth whose peer is a bridge port in `cnt-br`) with 192.0.2.<n>/24 and `lo`.
Nothing is created in the initial namespace, so no test traffic can leave these namespaces.
Every name carries the `cnt-` prefix; `cleanup()` removes whatever a crashed run left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

PREFIX = "cnt-"
BRIDGE_NS = PREFIX + "br"
NETNS_DIR = Path("/run/netns")
MOUNT_MARK = "/.mount_" + PREFIX  # runtime mounts at $TMPDIR/.mount_<6 chars of image name>

T = TypeVar("T")


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 30,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        check=check,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def wait_until(what: str, fn: Callable[[], T | None], timeout: float, interval: float = 0.05) -> T:
    """Poll fn until it returns a truthy value; bounded in time and in count."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 2):
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


RUN_LOCK = Path("/run/cnt-integration.lock")


@contextlib.contextmanager
def exclusive(timeout: float = 900) -> Iterator[None]:
    """Serialise test sessions and benchmarks on one machine: they share the `cnt-` names.

    Another session still holding the lock is waited for (bounded); a crashed one has
    released it with its file descriptor, and `cleanup()` removes what it left.
    """
    fd = os.open(RUN_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise AssertionError(f"{RUN_LOCK} held by another run for {timeout}s") from None
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)


def ns_name(host: str) -> str:
    return PREFIX + host


def ns_exec(host: str, argv: Sequence[str]) -> list[str]:
    """argv run inside the host's network namespace only (same mounts, same PID space)."""
    return ["nsenter", f"--net={NETNS_DIR / ns_name(host)}", "--", *argv]


def ns_pids(name: str) -> list[int]:
    out = run(["ip", "netns", "pids", name], check=False).stdout
    return [int(p) for p in out.split()]


def _fuse_mounts() -> list[str]:
    mounts = []
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and MOUNT_MARK in fields[1] and "fuse" in fields[2]:
            mounts.append(fields[1])
    return mounts


def kill_all(name: str) -> None:
    """SIGKILL every process in a namespace (a killed supervisor's children may linger)."""
    for _ in range(5):
        pids = [p for p in ns_pids(name) if p != os.getpid()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def cleanup() -> None:
    """Kill everything in our namespaces, delete them, drop stale AppImage mounts."""
    names = [n.split()[0] for n in run(["ip", "netns", "list"], check=False).stdout.splitlines() if n]
    ours = [n for n in names if n.startswith(PREFIX)]
    for n in ours:
        kill_all(n)
    for n in ours:
        run(["ip", "netns", "del", n], check=False)
    for m in _fuse_mounts():
        run(["umount", "-l", m], check=False)


def wire(bridge: str, hosts: dict[str, list[str]]) -> None:
    """A namespace `bridge` holding only the bridge `br0`, and for each namespace in `hosts` its
    `eth0` (a veth whose peer is a port of `br0`) with those addresses (`addr/prefix`; IPv6 ones
    without duplicate address detection), and `lo`, all up. Every name is the caller's own, with
    the `cnt-` prefix; nothing is created in the initial namespace."""
    run(["ip", "netns", "add", bridge])
    run(["ip", "-n", bridge, "link", "add", "br0", "type", "bridge"])
    run(["ip", "-n", bridge, "link", "set", "br0", "up"])
    for i, (ns, addresses) in enumerate(hosts.items()):
        port = f"p{i}"
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns])
        run(["ip", "-n", bridge, "link", "set", port, "master", "br0", "up"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        for addr in addresses:
            extra = ["nodad"] if ":" in addr else []
            run(["ip", "-n", ns, "addr", "add", addr, "dev", "eth0", *extra])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])


class Lab:
    """The bridge namespace plus one namespace per host."""

    def __init__(self, hosts: dict[str, str]) -> None:
        self.hosts = hosts  # host -> underlay address

    def up(self) -> None:
        cleanup()
        wire(BRIDGE_NS, {ns_name(host): [f"{addr}/24"] for host, addr in sorted(self.hosts.items())})

    def down(self) -> None:
        cleanup()

    @staticmethod
    def link_exists(host: str, dev: str) -> bool:
        return run(["ip", "-n", ns_name(host), "link", "show", dev], check=False).returncode == 0

    @staticmethod
    def pids(host: str) -> list[int]:
        return ns_pids(ns_name(host))
