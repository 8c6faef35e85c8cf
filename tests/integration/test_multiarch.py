"""A mixed network, for real: lighthouse and alpha on x86_64, beta on aarch64 (issue 13).

beta's AppDir holds nebula, nebula-cert and dnsmasq built for aarch64 from the same Go module
and Debian source as the x86_64 ones (tests/build-shipped aarch64, with the musl cross compiler
tests/aarch64-linux-musl-cc); the kernel runs them through qemu-user (tests/setup-binfmt). Its
inventory says `arch: aarch64`. Lighthouse and alpha are the session's x86_64 AppImages.

beta runs through its AppRun, the AppImage's entry point, directly: no aarch64 AppImage runtime
comes from a registry (the tests' appimagetool embeds an x86_64 runtime only). Given one in
$CRYPTIC_NET_RUNTIME_AARCH64 (a static type-2 runtime for aarch64), beta is also packed with
it (`--runtime-file`, ARCH=aarch64, as nix/build-host.sh does) and run as that AppImage, FUSE
mount included (the emulated runtime mounts it). Such an image starts through a second binfmt
entry that tests/setup-binfmt registers: qemu's own one does not match a type-2 AppImage.

Without qemu-user or the aarch64 programs these tests are skipped with the reason, except
under CI=true (.ci/run), where that is a failure: tests/run installs and builds everything.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import appimagetool
import netns
import pytest
from conftest import (
    DOMAIN,
    HERE,
    OVERLAY,
    REPO,
    STATIC_CHECK,
    TUN,
    Build,
    Running,
    pids_named,
    run_env,
    start,
    stop,
)
from conftest import _say as say

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.root, pytest.mark.integration]

sys.path.insert(0, str(REPO))
from tests.conftest import copy_inventory  # noqa: E402

HOST = "beta"  # the aarch64 host
HOST_IMAGE = f"cnt-{HOST}-aarch64.AppImage"  # its first 6 characters name its FUSE mount point
PROGRAMS = ("nebula", "nebula-cert", "dnsmasq")
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
EM_AARCH64 = 183  # e_machine of an AArch64 ELF file (elf(5), <elf.h> EM_AARCH64)
FQDNS = {f"{h}.{DOMAIN}": OVERLAY[h] for h in OVERLAY} | {f"www.{DOMAIN}": OVERLAY["beta"]}


def unavailable(reason: str) -> None:
    """Skip, except in CI: there tests/run installs and builds all of it, so it is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def binfmt_problem() -> str | None:
    if not BINFMT.is_file():
        return f"{BINFMT} missing: aarch64 programs cannot run here (run tests/setup-binfmt as root)"
    text = BINFMT.read_text()
    if not text.startswith("enabled"):
        return f"{BINFMT} is disabled (tests/setup-binfmt enables it)"
    return None


def elf_machine(path: Path) -> int | None:
    head = path.read_bytes()[:20]
    if head[:4] != b"\x7fELF":
        return None
    order = "little" if head[5] == 1 else "big"
    return int.from_bytes(head[18:20], order)


def readelf(flag: str, path: Path) -> str:
    return subprocess.run(
        ["readelf", flag, "-W", str(path)], capture_output=True, text=True, check=True, timeout=30
    ).stdout


@dataclass(frozen=True)
class Aarch64Bin:
    dir: Path
    pmux_is_aarch64: bool


@pytest.fixture(scope="module")
def aarch64_bin(session_dir: Path, pytestconfig: pytest.Config) -> Aarch64Bin:
    problem = binfmt_problem()
    if problem:
        unavailable(problem)
    src = Path(os.environ.get("CRYPTIC_NET_SHIPPED_AARCH64") or REPO / ".cache/shipped/aarch64/bin")
    missing = [p for p in PROGRAMS if not (src / p).is_file()]
    if missing:
        errors = " ".join(f.read_text().strip() for f in sorted(src.parent.glob("*.error")) if f.is_file())
        unavailable(f"no aarch64 {', '.join(missing)} in {src} (tests/build-shipped aarch64): {errors}")
    d = session_dir / "bin-aarch64"
    d.mkdir()
    for p in PROGRAMS:
        (d / p).symlink_to((src / p).resolve())
    pmux_is_aarch64 = (src / "pmux").is_file()
    if pmux_is_aarch64:
        (d / "pmux").symlink_to((src / "pmux").resolve())
    else:
        # No aarch64 pmux (the Go module proxy refuses pmux: nix/pins.json, test_builds.pmux):
        # the tests' stand-in, a script, never an x86_64 pmux: `cryptic-net appdir` refuses
        # programs of another architecture than the host's.
        stand_in = d / "pmux"
        stand_in.write_text(f"#!{sys.executable}\n" + (HERE / "pmux_standin.py").read_text())
        stand_in.chmod(0o755)
        say(
            pytestconfig,
            f"integration: multiarch: no aarch64 pmux in {src}; {HOST}'s AppDir gets the STAND-IN: "
            "its restart test is skipped",
        )
    return Aarch64Bin(d, pmux_is_aarch64)


@pytest.fixture(scope="module")
def appdir(session_dir: Path, aarch64_bin: Aarch64Bin) -> Path:
    """beta's AppDir, from the example inventory with `arch: aarch64` added to beta."""
    inv = copy_inventory(session_dir / "inv-multiarch")
    host_file = inv / "hosts" / f"{HOST}.yml"
    host_file.write_text(host_file.read_text() + "arch: aarch64\n")
    out = session_dir / f"appdir-{HOST}-aarch64"
    argv = ["appdir", HOST, "--root", str(inv), "--bin-dir", str(aarch64_bin.dir), "--out", str(out)]
    subprocess.run(
        [sys.executable, "-m", "cryptic_net", *argv],
        check=True,
        cwd=REPO,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1"},
        capture_output=True,
        timeout=120,
    )
    return out


def static_check(arch: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    """nix/checks/static.sh --arch: the flake's `static` check, as the Nix build runs it."""
    argv = ["bash", str(STATIC_CHECK), "--arch", arch, *map(str, paths)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_every_program_in_the_aarch64_appdir_is_static_aarch64(appdir: Path, aarch64_bin: Aarch64Bin) -> None:
    names = [*PROGRAMS, "pmux"] if aarch64_bin.pmux_is_aarch64 else list(PROGRAMS)
    for name in names:
        assert elf_machine(appdir / "bin" / name) == EM_AARCH64, f"{name}: not an AArch64 ELF file"
    result = static_check("aarch64", appdir)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in names:
        assert f"ok   {appdir}/bin/{name}\n" in result.stdout
    # The same check for x86_64 fails on each of them: it looks at the machine type.
    wrong = static_check("x86_64", appdir)
    assert wrong.returncode == 1
    for name in names:
        assert (
            f"FAIL {appdir}/bin/{name}: is not an x86_64 program (ELF machine 183, want 62)" in wrong.stdout
        )


def test_the_aarch64_scripts_pass_shellcheck() -> None:
    scripts = [REPO / "tests" / "setup-binfmt", REPO / "tests" / "aarch64-linux-musl-cc"]
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck missing (tests/run installs it)")
    result = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_the_aarch64_programs_run_here(appdir: Path) -> None:
    version = subprocess.run(
        [str(appdir / "AppRun"), "version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert version.returncode == 0, version.stderr
    assert re.search(r"^nebula \d+\.\d+\.\d+$", version.stdout, re.MULTILINE), version.stdout
    assert re.search(r"^Dnsmasq version \d", version.stdout, re.MULTILINE), version.stdout


# --- the network ------------------------------------------------------------------------------


@dataclass
class Mixed:
    hosts: dict[str, Running]
    beta_kind: str  # "appdir" (AppRun directly) or "appimage" (packed with an aarch64 runtime)


def x86_mode() -> str:
    return "mount" if Path("/dev/fuse").exists() else "extract"


def start_appdir(appdir: Path, session_dir: Path) -> Running:
    """beta from its AppDir: AppRun execs pmux, so the process is pmux (as in mount mode)."""
    log = session_dir / f"log-{HOST}-aarch64.txt"
    with log.open("wb") as f:
        proc = subprocess.Popen(
            netns.ns_exec(HOST, [str(appdir / "AppRun")]),
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT,
            env=run_env(session_dir),
            start_new_session=True,
        )
    return Running(HOST, "mount", proc, log)


def aarch64_image(appdir: Path, session_dir: Path) -> Build | None:
    runtime = os.environ.get("CRYPTIC_NET_RUNTIME_AARCH64")
    if not runtime:
        return None
    image = appimagetool.build(
        appdir,
        session_dir / "images" / HOST_IMAGE,
        arch="aarch64",
        runtime_file=Path(runtime),
    )
    return Build(HOST, appdir, image)


def wait_up(r: Running, lab: netns.Lab, timeout: float = 60) -> None:
    try:
        netns.wait_until(
            f"{r.host}: tun {TUN} up",
            lambda: r.proc.poll() is None and lab.link_exists(r.host, TUN),
            timeout=timeout,
        )
    except AssertionError as e:
        tail = "\n".join(r.log_text().splitlines()[-30:])
        raise AssertionError(f"{e}; exit status {r.proc.poll()}; log tail:\n{tail}") from None


# beta as an AppImage only where an aarch64 runtime was given (see the module docstring).
KINDS = ["appdir", "appimage"] if os.environ.get("CRYPTIC_NET_RUNTIME_AARCH64") else ["appdir"]


@pytest.fixture(scope="module", params=KINDS)
def mixed(
    request: pytest.FixtureRequest,
    lab: netns.Lab,
    builds: dict[str, Build],
    appdir: Path,
    session_dir: Path,
) -> Iterator[Mixed]:
    kind: str = request.param
    image = None
    if kind == "appimage":
        image = aarch64_image(appdir, session_dir)
    running: dict[str, Running] = {}
    try:
        for host in ("lighthouse", "alpha"):
            running[host] = start(builds[host], x86_mode(), session_dir, f"-multiarch-{kind}")
        if image is not None:
            # The mode systemd uses where there is FUSE: the emulated runtime mounts the image.
            running[HOST] = start(image, x86_mode(), session_dir, "-aarch64")
        else:
            running[HOST] = start_appdir(appdir, session_dir)
        for r in running.values():
            wait_up(r, lab)
        yield Mixed(running, kind)
    finally:
        for r in running.values():
            with contextlib.suppress(OSError, AssertionError, subprocess.SubprocessError):
                stop(r)
        for host in OVERLAY:
            netns.kill_all(netns.ns_name(host))


def in_ns(host: str, *argv: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return netns.run(netns.ns_exec(host, argv), check=False, timeout=timeout)


def ping(src: str, dst: str) -> bool:
    return in_ns(src, "ping", "-c1", "-W1", "-n", OVERLAY[dst], timeout=5).returncode == 0


def dig_short(host: str, *query: str) -> str:
    out = in_ns(host, "dig", f"@{OVERLAY[host]}", "+time=1", "+tries=1", "+short", *query, timeout=5)
    return out.stdout.strip()


def emulated(pid: int) -> bool:
    """True when the kernel ran this process through qemu-user (binfmt_misc)."""
    try:
        return "qemu-aarch64" in str(Path(f"/proc/{pid}/exe").readlink())
    except OSError:
        return False


def test_beta_runs_aarch64_programs_under_qemu(mixed: Mixed, session_dir: Path) -> None:
    if mixed.beta_kind == "appimage":
        image = session_dir / "images" / HOST_IMAGE
        assert elf_machine(image) == EM_AARCH64, "the AppImage's runtime is not AArch64"
        assert image.read_bytes()[8:11] == b"AI\x02", "not a type-2 AppImage"
        # The `static` check on the image: the runtime is not for this machine, so static.sh
        # unpacks it with unsquashfs; the runtime is checked as well.
        result = static_check("aarch64", image)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"ok   {image}!/bin/nebula\n" in result.stdout
    for name in ("nebula", "dnsmasq"):
        pids = pids_named(HOST, name)
        assert len(pids) == 1, f"{name} on {HOST}: {pids}"
        assert emulated(pids[0]), f"{name} on {HOST} is not an emulated aarch64 process"
        for host in ("lighthouse", "alpha"):
            (pid,) = pids_named(host, name)
            assert not emulated(pid), f"{name} on {host} runs under qemu"


def test_overlay_ping_between_the_architectures(mixed: Mixed) -> None:
    netns.wait_until("alpha -> beta overlay ping", lambda: ping("alpha", "beta"), timeout=30, interval=0.2)
    for src, dst in [("beta", "alpha"), ("beta", "lighthouse"), ("lighthouse", "beta")]:
        netns.wait_until(
            f"{src} -> {dst} overlay ping", lambda s=src, d=dst: ping(s, d), timeout=10, interval=0.2
        )


def test_names_resolve_on_both_architectures(mixed: Mixed) -> None:
    for host in ("beta", "alpha"):
        netns.wait_until(
            f"dnsmasq on {host}", lambda h=host: dig_short(h, f"{h}.{DOMAIN}"), timeout=20, interval=0.2
        )
        for fqdn, ip in FQDNS.items():
            assert dig_short(host, fqdn, "A") == ip, f"{fqdn} A on {host}"
        assert dig_short(host, "-x", OVERLAY["beta"]) == f"beta.{DOMAIN}.", f"PTR of beta on {host}"
    # By name across the architectures: alpha's resolver, then the tunnel to beta.
    netns.wait_until("alpha pings beta by name", lambda: ping_name("alpha", f"beta.{DOMAIN}"), timeout=10)
    netns.wait_until("beta pings alpha by name", lambda: ping_name("beta", f"alpha.{DOMAIN}"), timeout=10)


def ping_name(src: str, fqdn: str) -> bool:
    ip = dig_short(src, fqdn, "A")
    return bool(ip) and in_ns(src, "ping", "-c1", "-W1", "-n", ip, timeout=5).returncode == 0


def test_pmux_survives_sighup_on_beta(mixed: Mixed) -> None:
    r = mixed.hosts[HOST]
    pid = r.proc.pid if r.mode == "mount" else supervisor(r)
    before = {name: pids_named(HOST, name) for name in ("nebula", "dnsmasq")}
    if not emulated(pid):
        # A native pmux (no aarch64 one was built): AppRun starts it with SIGHUP ignored.
        status = Path(f"/proc/{pid}/status").read_text()
        m = re.search(r"^SigIgn:\s*([0-9a-f]+)$", status, re.MULTILINE)
        assert m, status
        assert int(m.group(1), 16) & (1 << (signal.SIGHUP - 1)), f"SIGHUP not ignored by {pid}"
    # An emulated pmux shows no SigIgn bits at all: qemu-user catches every signal itself and
    # applies the guest's disposition (SIG_IGN, inherited across exec) on its own. So only the
    # behaviour can be checked, which is what matters anyway.
    os.kill(pid, signal.SIGHUP)
    time.sleep(1)
    assert Path(f"/proc/{pid}").exists(), "pmux died on SIGHUP"
    assert {name: pids_named(HOST, name) for name in before} == before, "children changed"
    netns.wait_until("beta -> alpha after SIGHUP", lambda: ping("beta", "alpha"), timeout=10, interval=0.2)


def supervisor(r: Running) -> int:
    kids = netns.wait_until(f"pmux under {r.host}'s runtime", lambda: children_of(r.proc.pid), 10)
    return kids[0]


def children_of(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError):
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
    return out


def test_pmux_restarts_killed_aarch64_processes(mixed: Mixed, aarch64_bin: Aarch64Bin) -> None:
    if not aarch64_bin.pmux_is_aarch64:
        pytest.skip("restart is pmux's job, and there is no aarch64 pmux (the stand-in runs beta)")
    netns.wait_until("beta -> alpha", lambda: ping("beta", "alpha"), timeout=30, interval=0.2)
    for name in ("nebula", "dnsmasq"):
        old = pids_named(HOST, name)
        assert len(old) == 1, f"{name}: {old}"
        t0 = time.monotonic()
        os.kill(old[0], signal.SIGKILL)
        new = netns.wait_until(
            f"{name} restarted on {HOST}",
            lambda n=name, o=old: (p := pids_named(HOST, n)) and p != o and p,
            timeout=10,
        )
        assert emulated(new[0]), f"restarted {name} is not the aarch64 program"
        if name == "nebula":
            # As test_network.py does for alpha: the restarted side pings out.
            netns.wait_until("beta -> alpha after nebula restart", lambda: ping("beta", "alpha"), timeout=15)
        else:
            netns.wait_until(
                "DNS after dnsmasq restart",
                lambda: dig_short(HOST, f"alpha.{DOMAIN}") == OVERLAY["alpha"],
                timeout=10,
                interval=0.1,
            )
        # Emulation makes start-up slower than native (docs/multiarch.md has the numbers);
        # the x86_64 hosts are held to 5 s in test_network.py.
        assert time.monotonic() - t0 <= 15, f"{name} on {HOST} back after {time.monotonic() - t0:.2f}s"


def test_sigterm_stops_everything_on_beta(mixed: Mixed, lab: netns.Lab, appdir: Path) -> None:
    text = (appdir / "etc/cryptic-net/host.env").read_text()
    m = re.search(r"^CRYPTIC_NET_SIGKILL_WAIT='?(\d+)'?$", text, re.MULTILINE)
    assert m, "host.env has no CRYPTIC_NET_SIGKILL_WAIT"
    limit = int(m.group(1)) + 2
    r = mixed.hosts[HOST]
    t0 = time.monotonic()
    pid = r.proc.pid if r.mode == "mount" else supervisor(r)
    os.kill(pid, signal.SIGTERM)
    r.proc.wait(limit + 5)
    r.stopped = True
    netns.wait_until(
        "beta: nothing left running",
        lambda: not lab.pids(HOST) and not lab.link_exists(HOST, TUN),
        timeout=max(0.1, limit - (time.monotonic() - t0)),
    )
    assert r.proc.returncode == 0, f"{HOST} exit status {r.proc.returncode}:\n{r.log_text()[-2000:]}"
    if mixed.beta_kind == "appimage":  # the emulated runtime unmounted its image
        assert f"/.mount_{HOST_IMAGE[:6]}" not in Path("/proc/mounts").read_text()
    # The x86_64 hosts are still up and notice nothing but the missing peer.
    assert ping("alpha", "lighthouse")


def test_setup_binfmt_is_idempotent() -> None:
    script = REPO / "tests" / "setup-binfmt"
    for _ in range(2):
        result = subprocess.run([str(script)], capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert "ready" in result.stderr
    assert binfmt_problem() is None
    assert shutil.which("qemu-aarch64-static") or Path("/usr/bin/qemu-aarch64-static").exists()
