"""Start-up benchmark of the example network: plain AppDir vs AppImage (mount, extract-and-run).

Prints a Markdown table: median over N runs of
- start -> first overlay ping alpha -> beta (alpha and beta started at the same instant, the
  lighthouse already running),
- start -> first DNS answer from alpha's dnsmasq,
- peak RSS of alpha's whole bundle: the sum of VmHWM of every process in alpha's namespace
  (runtime, FUSE server, pmux, nebula, dnsmasq).

Needs root (namespaces, tun, FUSE). Usage (from the repo root):
    .venv/bin/python bench/bench.py [-n RUNS]
Run it through tests/run's PATH to measure the shipped builds (static nebula 1.10, musl
dnsmasq; tests/build-shipped), e.g. `PATH=$PWD/.cache/shipped/x86_64/bin:$PATH`; the header
says for each program whether it is a shipped build or an installed one.
pmux comes from $CRYPTIC_NET_PMUX or PATH; otherwise the tests' stand-in is used and the
table says so (its numbers then say nothing about pmux itself).
"""

# ruff: noqa: INP001 (a script, not a package)
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import appimagetool  # noqa: E402
import netns  # noqa: E402
from probe import UNDERLAY, dns_ok, first_success, hwm_kib, ping_ok  # noqa: E402

MODES = ("plain", "mount", "extract")
LABELS = {
    "plain": "plain AppDir (AppRun, no AppImage runtime)",
    "mount": "AppImage, FUSE mount",
    "extract": "AppImage, --appimage-extract-and-run",
}
TIMEOUT = 30.0


def prepare(work: Path) -> tuple[dict[str, Path], dict[str, Path], str]:
    bin_dir = work / "bin"
    bin_dir.mkdir()
    for name in ("nebula", "nebula-cert", "dnsmasq"):
        found = shutil.which(name)
        if found is None:
            sys.exit(f"bench: {name} not on PATH")
        (bin_dir / name).symlink_to(found)
    pmux = os.environ.get("CRYPTIC_NET_PMUX") or shutil.which("pmux")
    if pmux:
        (bin_dir / "pmux").symlink_to(Path(pmux).resolve())
        pmux_mode = f"real pmux ({pmux})"
    else:
        stand_in = work / "pmux-standin"
        stand_in.write_text(
            f"#!{sys.executable}\n" + (REPO / "tests/integration/pmux_standin.py").read_text()
        )
        stand_in.chmod(0o755)
        (bin_dir / "pmux").symlink_to(stand_in)
        pmux_mode = "pmux STAND-IN (Python; no real pmux found): numbers do not describe pmux"
    appdirs, images = {}, {}
    for host in UNDERLAY:
        appdirs[host] = work / f"appdir-{host}"
        appimagetool.assemble(host, bin_dir, appdirs[host])
        images[host] = appimagetool.build(appdirs[host], work / "images" / f"cnt-{host}.AppImage")
    return appdirs, images, pmux_mode


def argv(mode: str, host: str, appdirs: dict[str, Path], images: dict[str, Path]) -> list[str]:
    if mode == "plain":
        return netns.ns_exec(host, [str(appdirs[host] / "AppRun")])
    extra = ["--appimage-extract-and-run"] if mode == "extract" else []
    return netns.ns_exec(host, [str(images[host]), *extra])


def supervisor(proc: subprocess.Popen[bytes], mode: str) -> int:
    if mode != "extract":
        return proc.pid
    for _ in range(200):
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == proc.pid:
                    return int(p.name)
        time.sleep(0.05)
    return proc.pid


def one_run(mode: str, appdirs: dict[str, Path], images: dict[str, Path], work: Path) -> dict[str, float]:
    lab = netns.Lab(UNDERLAY)
    lab.up()
    env = {k: v for k, v in os.environ.items() if k not in ("APPDIR", "ARGV0")}
    env["TMPDIR"] = str(work / "rt-tmp")
    env["CRYPTIC_NET_LOCK_DIR"] = str(work / "locks")
    Path(env["TMPDIR"]).mkdir(exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    result: dict[str, float] = {}
    try:

        def launch(host: str) -> None:
            procs[host] = subprocess.Popen(
                argv(mode, host, appdirs, images),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )

        # The lighthouse is up first (as in any real network): otherwise the number measures
        # nebula's handshake retry backoff towards a lighthouse that is still starting.
        launch("lighthouse")
        netns.wait_until("lighthouse tun", lambda: lab.link_exists("lighthouse", "cn-example"), TIMEOUT)
        t0 = time.monotonic()
        launch("alpha")
        launch("beta")
        threads = [
            threading.Thread(
                target=first_success,
                args=(lambda: ping_ok("alpha", "beta", TIMEOUT), t0, TIMEOUT, result, "ping"),
            ),
            threading.Thread(
                target=first_success, args=(lambda: dns_ok("alpha", "beta"), t0, TIMEOUT, result, "dns")
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(0.5)  # let the bundle settle before reading the high-water marks
        result["rss"] = sum(hwm_kib(p) for p in lab.pids("alpha")) / 1024
    finally:
        for host, proc in procs.items():
            if proc.poll() is None:
                try:
                    os.kill(supervisor(proc, mode), signal.SIGTERM)
                    proc.wait(10)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            netns.kill_all(netns.ns_name(host))
        lab.down()
    return result


def origin(name: str) -> str:
    """Whether PATH's program is a shipped build (tests/build-shipped) or an installed one."""
    found = shutil.which(name)
    if found is None:
        return " (missing)"
    if (REPO / ".cache" / "shipped") in Path(found).resolve().parents:
        return " (shipped build, static)"
    return f" (installed: {Path(found).resolve()})"


def fmt(values: list[float], unit: str) -> str:
    if not values:
        return "n/a"
    return f"{statistics.median(values):.2f} {unit}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespaces, tun, FUSE)")
    with netns.exclusive(), tempfile.TemporaryDirectory(prefix="cnt-bench-") as tmp:
        work = Path(tmp)
        appdirs, images, pmux_mode = prepare(work)
        rows = []
        for mode in MODES:
            runs = [one_run(mode, appdirs, images, work) for _ in range(args.runs)]
            ok = [r for r in runs if "ping" in r]
            rows.append(
                (
                    LABELS[mode],
                    fmt([r["ping"] for r in ok], "s"),
                    fmt([r["dns"] for r in runs if "dns" in r], "s"),
                    fmt([r["rss"] for r in runs], "MiB"),
                    f"{len(ok)}/{len(runs)}",
                )
            )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    debian = Path("/etc/debian_version").read_text().strip() if Path("/etc/debian_version").exists() else "?"
    nebula = subprocess.run(
        ["nebula", "-version"], capture_output=True, text=True, check=False
    ).stdout.split()[-1] + origin("nebula")
    dnsmasq = subprocess.run(
        ["dnsmasq", "--version"], capture_output=True, text=True, check=False
    ).stdout.split()[2] + origin("dnsmasq")
    print(
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {cpu}, {os.cpu_count()} CPUs, "
        f"Linux {platform.release()}, Debian {debian}; nebula {nebula}, dnsmasq {dnsmasq}, {pmux_mode}."
    )
    print(
        f"Median of {args.runs} runs in fresh network namespaces; alpha and beta started at once, "
        "the lighthouse already up.\n"
    )
    print(
        "| mode | start -> first overlay ping | start -> first DNS answer "
        "| peak RSS of alpha's bundle | runs with a ping |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
