"""Fixtures for the integration tests: real AppImages of the example network in namespaces.

Needs root (namespaces, tun, FUSE); skipped otherwise. The programs come from PATH, where
tests/run puts the shipped builds first (tests/build-shipped: nebula 1.10, a static musl
dnsmasq, pmux); the session says which ones it runs and whether they are the shipped builds.
pmux comes from $CRYPTIC_NET_PMUX or PATH; without one (the Go module proxy refuses pmux, see
nix/pins.json test_builds.pmux.refused), tests/integration/pmux_standin.py stands in and the
supervision tests (restart, merged log) are skipped with the reason, never faked.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import appimagetool  # noqa: E402
import netns  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = HERE.parents[1]

# The example inventory (network.yml + hosts/), as CONTRACT.md describes it.
DOMAIN = "example.internal"
NETWORK = "example"
TUN = "cn-example"
UNDERLAY = {"lighthouse": "192.0.2.1", "alpha": "192.0.2.2", "beta": "192.0.2.3"}
OVERLAY = {"lighthouse": "10.42.0.1", "alpha": "10.42.0.2", "beta": "10.42.0.3"}
ALIASES = {"beta": ["www"]}
TOOLS = ["nebula", "nebula-cert", "dnsmasq", "mksquashfs", "ip", "nsenter", "dig", "ss"]
SHIPPED_DIR = REPO / ".cache" / "shipped"  # tests/build-shipped's output
# The `static` check, one script for the flake check and these tests.
STATIC_CHECK = REPO / "nix" / "checks" / "static.sh"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.root)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("integration tests need root (network namespaces, tun, FUSE)")


_MODE_LINES: list[str] = []


def _say(config: pytest.Config, line: str) -> None:
    """Tell the user now (past output capture) and again in the final summary."""
    _MODE_LINES.append(line)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capman is not None:
        with capman.global_and_fixture_disabled():
            reporter.write_line(line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _MODE_LINES:
        terminalreporter.write_line(line)


@dataclass(frozen=True)
class Program:
    name: str
    path: Path  # resolved
    shipped: bool  # built by tests/build-shipped (what the AppImages ship), not an installed one
    version: str


def _version(path: Path, name: str) -> str:
    flag = {"nebula": "-version", "nebula-cert": "-version", "dnsmasq": "--version"}.get(name)
    if flag is None:
        return ""
    out = subprocess.run([str(path), flag], capture_output=True, text=True, timeout=10, check=False)
    return (out.stdout + out.stderr).strip().splitlines()[0] if (out.stdout + out.stderr).strip() else "?"


@pytest.fixture(scope="session")
def programs(pytestconfig: pytest.Config) -> dict[str, Program]:
    """nebula, nebula-cert, dnsmasq as found on PATH; the session says which and from where."""
    found = {}
    for name in ("nebula", "nebula-cert", "dnsmasq"):
        where = shutil.which(name)
        if where is None:
            pytest.fail(f"{name} is not on PATH (tests/run builds it; Debian: nebula dnsmasq-base)")
        path = Path(where).resolve()
        prog = Program(name, path, SHIPPED_DIR in path.parents, _version(path, name))
        found[name] = prog
        kind = "shipped build" if prog.shipped else "INSTALLED, NOT the shipped build"
        _say(pytestconfig, f"integration: {name} = {path} ({kind}; {prog.version})")
    return found


@dataclass(frozen=True)
class Pmux:
    path: Path
    real: bool
    why: str


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cnt")


@pytest.fixture(scope="session")
def pmux(session_dir: Path, pytestconfig: pytest.Config) -> Pmux:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    env_path = os.environ.get("CRYPTIC_NET_PMUX")
    found = env_path or shutil.which("pmux")
    if found:
        result = Pmux(Path(found).resolve(), real=True, why="")
        _say(pytestconfig, f"integration: pmux mode = REAL pmux {result.path}")
        return result
    refused = json.loads((REPO / "nix/pins.json").read_text())["test_builds"]["pmux"].get("refused", "")
    stand_in = session_dir / "pmux-standin"
    src = (HERE / "pmux_standin.py").read_text()
    stand_in.write_text(f"#!{sys.executable}\n{src}")
    stand_in.chmod(0o755)
    why = (
        "no real pmux (CRYPTIC_NET_PMUX unset, none on PATH): ran the stand-in, "
        "which proves nothing about pmux's supervision"
        + ("; the Go module proxy refuses pmux (nix/pins.json: test_builds.pmux.refused)" if refused else "")
    )
    _say(
        pytestconfig,
        f"integration: pmux mode = STAND-IN {stand_in}; restart and merged-log tests NOT run: {why}",
    )
    return Pmux(stand_in, real=False, why=why)


@pytest.fixture(scope="session")
def bin_dir(session_dir: Path, pmux: Pmux, programs: dict[str, Program]) -> Path:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(
            f"missing tools on PATH: {', '.join(missing)} (Debian: nebula dnsmasq-base "
            "squashfs-tools iproute2 util-linux dnsutils)"
        )
    d = session_dir / "bin"
    d.mkdir()
    for name, prog in programs.items():
        (d / name).symlink_to(prog.path)
    (d / "pmux").symlink_to(pmux.path)
    return d


@dataclass
class Build:
    host: str
    appdir: Path
    appimage: Path


@pytest.fixture(scope="session")
def builds(session_dir: Path, bin_dir: Path) -> dict[str, Build]:
    if shutil.which("mksquashfs") is None:
        pytest.fail("mksquashfs missing (apt-get install squashfs-tools)")
    out: dict[str, Build] = {}
    for host in UNDERLAY:
        appdir = session_dir / f"appdir-{host}"
        appimagetool.assemble(host, bin_dir, appdir)
        # The AppImage name's first 6 characters name its FUSE mount point (.mount_cnt-XX...),
        # which lets cleanup find mounts a crashed run left.
        image = appimagetool.build(appdir, session_dir / "images" / f"cnt-{host}.AppImage")
        out[host] = Build(host, appdir, image)
    return out


@pytest.fixture
def appdir(builds: dict[str, Build], tmp_path: Path) -> Path:
    """A private copy of alpha's AppDir, for tests that run or tamper with AppRun."""
    dst = tmp_path / "appdir"
    shutil.copytree(builds["alpha"].appdir, dst, symlinks=True)
    return dst


@pytest.fixture
def lock_dir(tmp_path: Path) -> Path:
    """An empty lock directory of the test's own (AppRun's CRYPTIC_NET_LOCK_DIR)."""
    d = tmp_path / "locks"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def lab(session_dir: Path) -> Iterator[netns.Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    the_lab = netns.Lab(UNDERLAY)
    with netns.exclusive():
        try:
            the_lab.up()
            yield the_lab
        finally:
            the_lab.down()


@dataclass
class Running:
    host: str
    mode: str  # "mount" or "extract"
    proc: subprocess.Popen[bytes]
    log: Path
    stopped: bool = field(default=False)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def run_env(session_dir: Path) -> dict[str, str]:
    tmp = session_dir / "rt-tmp"
    tmp.mkdir(exist_ok=True)
    locks = session_dir / "locks"
    locks.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("APPDIR", "APPIMAGE", "ARGV0", "OWD")}
    # TMPDIR: where the runtime mounts (.mount_*) or extracts (appimage_extracted_*), so a
    # run leaves nothing in /tmp. Lock dir: ours, not the machine's /run/cryptic-net.
    env["TMPDIR"] = str(tmp)
    env["CRYPTIC_NET_LOCK_DIR"] = str(locks)
    return env


def argv_for(build: Build, mode: str, *args: str) -> list[str]:
    extra = ["--appimage-extract-and-run"] if mode == "extract" else []
    return netns.ns_exec(build.host, [str(build.appimage), *extra, *args])


def start(build: Build, mode: str, session_dir: Path, tag: str = "") -> Running:
    log = session_dir / f"log-{build.host}-{mode}{tag}.txt"
    with log.open("wb") as f:
        proc = subprocess.Popen(
            argv_for(build, mode),
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT,
            env=run_env(session_dir),
            start_new_session=True,
        )
    return Running(build.host, mode, proc, log)


def children(pid: int) -> list[int]:
    """Direct children of pid, from /proc."""
    kids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            st = (p / "stat").read_text()
        except OSError:
            continue
        ppid = int(st.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            kids.append(int(p.name))
    return kids


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def pids_named(host: str, name: str) -> list[int]:
    return [p for p in netns.ns_pids(netns.ns_name(host)) if comm(p) == name]


def supervisor_pid(r: Running) -> int:
    """pmux's PID: the AppImage's own PID in mount mode, its child in extract-and-run."""
    if r.mode == "mount":
        return r.proc.pid
    kids = netns.wait_until(f"pmux under {r.host}'s runtime", lambda: children(r.proc.pid), 10)
    return kids[0]


def stop(r: Running, timeout: float = 10) -> float:
    """Stop a host the way an operator would; return seconds until everything was gone."""
    if r.stopped:
        return 0.0
    started = time.monotonic()
    target = supervisor_pid(r) if r.proc.poll() is None else None
    if target is not None:
        os.kill(target, signal.SIGTERM)
    try:
        r.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(r.proc.pid, signal.SIGKILL)
        r.proc.wait(5)
    r.stopped = True
    return time.monotonic() - started


def sigkill_wait(build: Build) -> int:
    text = (build.appdir / "etc/cryptic-net/host.env").read_text()
    m = re.search(r"^CRYPTIC_NET_SIGKILL_WAIT='?(\d+)'?$", text, re.MULTILINE)
    assert m, "host.env has no CRYPTIC_NET_SIGKILL_WAIT"
    return int(m.group(1))


def world_readable_copy(src: Path) -> Path:
    """A copy of an AppDir that uid nobody can read (pytest's tmp tree is 0700)."""
    dst = Path(tempfile.mkdtemp(prefix=netns.PREFIX, dir="/tmp"))
    dst.chmod(0o755)
    dst = dst / "appdir"
    shutil.copytree(src, dst, symlinks=True)
    for p in [dst, *dst.rglob("*")]:
        if not p.is_symlink():
            mode = p.stat().st_mode
            p.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0))
    return dst


def static_check(*paths: Path, runtime_may_be_dynamic: bool = True) -> subprocess.CompletedProcess[str]:
    """nix/checks/static.sh on AppImages or AppDirs (the flake's `static` check, offline).

    The tests' appimagetool embeds the classic AppImageKit runtime, which loads libfuse.so.2:
    a test tool, not the static type-2 runtime the flake ships, so its ELF checks are skipped
    by default (the store-path search still covers it).
    """
    flags = ["--runtime-may-be-dynamic"] if runtime_may_be_dynamic else []
    return subprocess.run(
        ["bash", str(STATIC_CHECK), *flags, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_mode() -> str:
    """The mode systemd uses (the unit runs the AppImage itself: FUSE mount) where it can."""
    return "mount" if Path("/dev/fuse").exists() else "extract"


@contextlib.contextmanager
def network_up(
    builds: dict[str, Build], lab: netns.Lab, session_dir: Path, tag: str
) -> Iterator[dict[str, Running]]:
    """The three example hosts running (tun up on each), stopped and gone afterwards."""
    mode = run_mode()
    running: dict[str, Running] = {}
    try:
        for host, b in builds.items():
            running[host] = start(b, mode, session_dir, tag)
        for r in running.values():
            wait_up(r, lab)
        yield running
    finally:
        for r in running.values():
            with contextlib.suppress(OSError, AssertionError, subprocess.SubprocessError):
                stop(r)
        for host in builds:
            netns.kill_all(netns.ns_name(host))


def wait_up(r: Running, lab: netns.Lab, timeout: float = 20) -> None:
    try:
        netns.wait_until(
            f"{r.host}: tun {TUN} up ({r.mode})",
            lambda: r.proc.poll() is None and lab.link_exists(r.host, TUN),
            timeout=timeout,
        )
    except AssertionError as e:
        tail = "\n".join(r.log_text().splitlines()[-30:])
        raise AssertionError(f"{e}; exit status {r.proc.poll()}; log tail:\n{tail}") from None


def overlay_ping(src: str, dst: str) -> bool:
    argv = netns.ns_exec(src, ["ping", "-c1", "-W1", "-n", OVERLAY[dst]])
    return netns.run(argv, check=False, timeout=5).returncode == 0


class Pinger:
    """`ping -D` from one host to another's overlay address, every `interval` seconds.

    Bounded: ping's own deadline (-w) ends it, and `stop()` interrupts it earlier.
    """

    def __init__(self, src: str, dst: str, interval: float = 0.2, deadline: int = 90) -> None:
        self.src, self.dst, self.interval = src, dst, interval
        self.proc = subprocess.Popen(
            netns.ns_exec(
                src, ["ping", "-D", "-n", "-i", str(interval), "-W", "1", "-w", str(deadline), OVERLAY[dst]]
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def replies(self) -> list[float]:
        """Wall-clock times (ping -D) of the echo replies so far."""
        out = []
        for line in list(self.lines):
            m = re.match(r"^\[(\d+\.\d+)\] \d+ bytes from ", line)
            if m:
                out.append(float(m.group(1)))
        return out

    def wait_reply_after(self, t: float, timeout: float) -> float:
        return netns.wait_until(
            f"a reply {self.src} -> {self.dst} after {t:.3f}",
            lambda: next((r for r in self.replies() if r > t), None),
            timeout=timeout,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._reader.join(5)

    def longest_gap(self, start: float, end: float) -> tuple[float, float]:
        """Longest time without a reply within [start, end], and where it began."""
        times = [start, *(r for r in self.replies() if start < r < end), end]
        gaps = [(b - a, a) for a, b in itertools.pairwise(times)]
        return max(gaps)


def underlay_packets(host: str) -> int:
    """Packets received on a host's underlay interface so far (eth0 in its namespace)."""
    out = netns.run(["ip", "-n", netns.ns_name(host), "-s", "-j", "link", "show", "eth0"]).stdout
    return int(json.loads(out)[0]["stats64"]["rx"]["packets"])
