"""The example network, three real AppImages in three namespaces, in both run modes.

Order matters inside a mode: the last test stops the hosts (SIGTERM) and checks that nothing
is left. Each mode (FUSE mount, --appimage-extract-and-run) gets fresh hosts.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import netns
import pytest
import yaml
from conftest import (
    ALIASES,
    DOMAIN,
    OVERLAY,
    TUN,
    Build,
    Pmux,
    Running,
    argv_for,
    pids_named,
    run_env,
    sigkill_wait,
    start,
    stop,
    supervisor_pid,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.root, pytest.mark.integration]

FQDNS = {f"{name}.{DOMAIN}": OVERLAY[host] for host in OVERLAY for name in [host, *ALIASES.get(host, [])]}


@dataclass
class Net:
    mode: str
    hosts: dict[str, Running]
    checks: dict[str, subprocess.CompletedProcess[str]]


def in_ns(host: str, *argv: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return netns.run(netns.ns_exec(host, argv), check=False, timeout=timeout)


def ping(src: str, dst: str) -> bool:
    return in_ns(src, "ping", "-c1", "-W1", "-n", OVERLAY[dst], timeout=5).returncode == 0


def dig(host: str, *query: str) -> str:
    out = in_ns(host, "dig", f"@{OVERLAY[host]}", "+time=1", "+tries=1", *query, timeout=5)
    return out.stdout


def dig_short(host: str, *query: str) -> str:
    return dig(host, "+short", *query).strip()


@pytest.fixture(scope="module", params=["mount", "extract"])
def net(
    request: pytest.FixtureRequest, lab: netns.Lab, builds: dict[str, Build], session_dir: Path
) -> Iterator[Net]:
    mode: str = request.param
    if mode == "mount" and not Path("/dev/fuse").exists():
        pytest.skip("mount mode needs /dev/fuse (and libfuse2); extract-and-run still runs")
    env = run_env(session_dir)
    checks = {
        host: netns.run(argv_for(b, mode, "check"), check=False, env=env, timeout=60)
        for host, b in builds.items()
    }
    running: dict[str, Running] = {}
    try:
        for host, b in builds.items():
            running[host] = start(b, mode, session_dir)
        for host, r in running.items():
            try:
                netns.wait_until(
                    f"{host}: tun {TUN} up ({mode})",
                    lambda h=host, r=r: r.proc.poll() is None and lab.link_exists(h, TUN),
                    timeout=20,
                )
            except AssertionError as e:
                tail = "\n".join(r.log_text().splitlines()[-30:])
                raise AssertionError(f"{e}; exit status {r.proc.poll()}; log tail:\n{tail}") from None
        yield Net(mode, running, checks)
    finally:
        for r in running.values():
            with contextlib.suppress(OSError, AssertionError, subprocess.SubprocessError):
                stop(r)
        for host in builds:
            netns.kill_all(netns.ns_name(host))


@pytest.mark.nebula_compat
def test_check_passes_before_start(net: Net) -> None:
    for host, result in net.checks.items():
        assert result.returncode == 0, f"{host} check:\n{result.stdout}{result.stderr}"
        assert "all checks passed" in result.stdout


@pytest.mark.nebula_compat
def test_ping_both_ways_through_the_lighthouse(net: Net, builds: dict[str, Build]) -> None:
    conf = yaml.safe_load((builds["alpha"].appdir / "etc/nebula/nebula.yml").read_text())
    static = {str(k) for k in conf["static_host_map"]}
    assert OVERLAY["beta"] not in static, "beta must be found through the lighthouse"
    assert OVERLAY["lighthouse"] in static
    netns.wait_until("alpha -> beta overlay ping", lambda: ping("alpha", "beta"), timeout=20, interval=0.2)
    assert ping("beta", "alpha")
    assert ping("lighthouse", "alpha")


@pytest.mark.nebula_compat
def test_every_name_resolves_on_every_host(net: Net) -> None:
    for host in OVERLAY:
        netns.wait_until(
            f"dnsmasq on {host}", lambda h=host: dig_short(h, f"{h}.{DOMAIN}"), timeout=15, interval=0.2
        )
        for fqdn, ip in FQDNS.items():
            assert dig_short(host, fqdn, "A") == ip, f"{fqdn} A on {host}"
        for owner, ip in OVERLAY.items():
            assert dig_short(host, "-x", ip) == f"{owner}.{DOMAIN}.", f"PTR {ip} on {host}"
        assert "status: NXDOMAIN" in dig(host, f"nosuchhost.{DOMAIN}", "A")


def dnsmasq_sockets(host: str) -> list[list[str]]:
    out = in_ns(host, "ss", "-H", "-l", "-n", "-t", "-u", "-p").stdout
    return [line.split() for line in out.splitlines() if '"dnsmasq"' in line]


def test_dnsmasq_listens_on_the_overlay_address_only(net: Net) -> None:
    for host, ip in OVERLAY.items():
        # bind-dynamic adds its sockets when nebula's address appears: wait for both kinds.
        socks = netns.wait_until(
            f"dnsmasq udp and tcp sockets on {host}",
            lambda h=host: (s := dnsmasq_sockets(h)) and {f[0] for f in s} == {"udp", "tcp"} and s,
            timeout=5,
        )
        locals_ = {fields[4] for fields in socks}
        assert locals_ == {f"{ip}:53"}, f"{host}: dnsmasq listens on {locals_}"


LISTENER = """
import select, socket, sys, time
socks = []
for port in (22, 80):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(8); socks.append(s)
print("listening", flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    ready, _, _ = select.select(socks, [], [], 0.5)
    for s in ready:
        c, _ = s.accept(); c.sendall(b"hi\\n"); c.close()
"""

CLIENT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
    print("open")
except TimeoutError:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
"""


def tcp(src: str, ip: str, port: int, timeout: float) -> str:
    return in_ns(src, sys.executable, "-c", CLIENT, ip, str(port), str(timeout)).stdout.strip()


@pytest.mark.nebula_compat
def test_firewall_drops_what_it_does_not_allow(net: Net) -> None:
    netns.wait_until("alpha -> beta tunnel", lambda: ping("alpha", "beta"), timeout=20, interval=0.2)
    listener = subprocess.Popen(
        netns.ns_exec("beta", [sys.executable, "-c", LISTENER]),
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "listening"
        # Both ports are open inside beta: only nebula's firewall tells them apart.
        assert in_ns("beta", "ss", "-H", "-l", "-n", "-t", "sport", "= :22").stdout.strip()
        assert tcp("alpha", OVERLAY["beta"], 80, 5) == "open"  # beta: tcp 80 from group laptop
        assert tcp("alpha", OVERLAY["beta"], 22, 2) == "timeout"  # not allowed: dropped silently
    finally:
        listener.kill()
        listener.wait(5)


def test_second_instance_is_refused(net: Net, builds: dict[str, Build], session_dir: Path) -> None:
    env = run_env(session_dir)
    if net.mode == "extract":
        # The classic runtime extracts to $TMPDIR/appimage_extracted_<md5 of the image> and
        # deletes that directory when its child exits: a refused second copy sharing TMPDIR
        # would delete the running copy's files (docs/operating.md, "extract-and-run").
        env["TMPDIR"] = str(session_dir / "rt-tmp-second")
        Path(env["TMPDIR"]).mkdir(exist_ok=True)
    result = netns.run(argv_for(builds["alpha"], net.mode), check=False, env=env, timeout=30)
    assert result.returncode == 6, result.stdout + result.stderr
    assert "already running" in result.stderr
    assert net.hosts["alpha"].proc.poll() is None, "the first instance must survive"
    assert ping("alpha", "beta")


def test_pmux_survives_sighup(net: Net) -> None:
    # pmux dies on SIGHUP and orphans its children; AppRun starts it with SIGHUP ignored.
    pid = supervisor_pid(net.hosts["alpha"])
    status = Path(f"/proc/{pid}/status").read_text()
    sig_ign = int(re.search(r"^SigIgn:\s*([0-9a-f]+)$", status, re.MULTILINE).group(1), 16)  # type: ignore[union-attr]
    assert sig_ign & (1 << (signal.SIGHUP - 1)), f"SIGHUP not ignored by {pid}"
    os.kill(pid, signal.SIGHUP)
    time.sleep(0.5)
    assert Path(f"/proc/{pid}").exists()
    assert ping("alpha", "beta")


def test_pmux_restarts_killed_processes(net: Net, pmux: Pmux) -> None:
    if not pmux.real:
        pytest.skip(f"restart needs the real pmux: {pmux.why}")
    netns.wait_until("alpha -> beta", lambda: ping("alpha", "beta"), timeout=20, interval=0.2)
    for name in ("nebula", "dnsmasq"):
        old = pids_named("alpha", name)
        assert len(old) == 1, f"{name}: {old}"
        t0 = time.monotonic()
        os.kill(old[0], signal.SIGKILL)
        netns.wait_until(
            f"{name} restarted",
            lambda n=name, o=old: (new := pids_named("alpha", n)) and new != o,
            timeout=5,
        )
        left = max(0.5, 5 - (time.monotonic() - t0))
        if name == "nebula":
            netns.wait_until(
                "ping after nebula restart", lambda: ping("alpha", "beta"), timeout=left, interval=0.1
            )
        else:
            netns.wait_until(
                "DNS after dnsmasq restart",
                lambda: dig_short("alpha", f"www.{DOMAIN}") == OVERLAY["beta"],
                timeout=left,
                interval=0.1,
            )
        assert time.monotonic() - t0 <= 5.5, f"{name} back after {time.monotonic() - t0:.2f}s"


def test_pmux_merges_both_logs(net: Net, pmux: Pmux) -> None:
    if not pmux.real:
        pytest.skip(f"merged log is pmux's job: {pmux.why}")
    log = net.hosts["alpha"].log_text()
    for name in ("nebula", "dnsmasq"):
        assert re.search(rf"^(?:\S+ [\u203a\u00bb~] )?{name}\s+[\u203a\u00bb] \S", log, re.MULTILINE), (
            f"no {name} lines in:\n{log[:2000]}"
        )


def test_sigterm_stops_everything(
    net: Net, builds: dict[str, Build], lab: netns.Lab, session_dir: Path
) -> None:
    for host, r in net.hosts.items():
        limit = sigkill_wait(builds[host]) + 1
        t0 = time.monotonic()
        # Mount mode: the AppImage's own PID is pmux. Extract-and-run: the runtime does not
        # pass SIGTERM on (docs/operating.md), so it goes to pmux, its child.
        stop(r, timeout=limit + 2)
        netns.wait_until(
            f"{host}: nothing left running",
            lambda h=host: not lab.pids(h) and not lab.link_exists(h, TUN),
            timeout=max(0.1, limit - (time.monotonic() - t0)),
        )
        took = time.monotonic() - t0
        assert took <= limit, f"{host} took {took:.2f}s (limit {limit}s)"
        assert r.proc.returncode == 0, f"{host} exit status {r.proc.returncode}"
    mounts = Path("/proc/mounts").read_text()
    assert netns.MOUNT_MARK not in mounts
    assert not list((session_dir / "rt-tmp").glob("appimage_extracted_*"))
