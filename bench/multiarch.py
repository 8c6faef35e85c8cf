"""Size and start-up of beta built for aarch64 (run here through qemu-user) beside x86_64.

Prints a Markdown table, one row per architecture of beta's build:
- sizes: nebula, dnsmasq and pmux as shipped, the whole AppDir, and the AppImage where one can
  be packed (x86_64: the tests' appimagetool and its runtime; aarch64: only with an aarch64
  runtime given by --runtime-aarch64, none comes from a registry);
- `nebula -version`: the cost of starting one process (median);
- start -> beta's tun up, start -> first overlay ping alpha -> beta, start -> first DNS answer
  of beta's dnsmasq (beta started from its AppDir's AppRun, and from its AppImage in FUSE mount
  mode where there is one; lighthouse and alpha, x86_64, already up; median of N runs in fresh
  network namespaces);
- peak RSS of beta's bundle (the sum of VmHWM of every process in its namespace; under
  emulation that includes qemu's own memory).

The programs come from .cache/shipped/<arch>/bin (tests/build-shipped; x86_64 falls back to
PATH); pmux, which the Go module proxy refuses, from $CRYPTIC_NET_PMUX (x86_64) and
$CRYPTIC_NET_PMUX_AARCH64, else the tests' stand-in (the table says so). Needs root and
qemu-user (tests/setup-binfmt). Usage:
    .venv/bin/python bench/multiarch.py [-n RUNS] [--runtime-aarch64 FILE]
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
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import appimagetool  # noqa: E402
import netns  # noqa: E402
from probe import UNDERLAY, dns_ok, first_success, hwm_kib, ping_ok  # noqa: E402

sys.path.insert(0, str(REPO))
from tests.conftest import copy_inventory  # noqa: E402

PROGRAMS = ("nebula", "nebula-cert", "dnsmasq", "pmux")
TIMEOUT = 60.0
Row = tuple[str, ...]


@dataclass(frozen=True)
class Setup:
    appdirs: dict[str, Path]  # lighthouse's and alpha's (x86_64)
    work: Path
    runs: int


def find_bin(arch: str, work: Path) -> tuple[Path, str]:
    """A bin dir for one architecture, and a note when its pmux is the tests' stand-in."""
    shipped = REPO / ".cache" / "shipped" / arch / "bin"
    d = work / f"bin-{arch}"
    d.mkdir()
    note = ""
    for name in PROGRAMS:
        found = shipped / name if (shipped / name).is_file() else None
        if found is None and name == "pmux":
            given = os.environ.get(
                "CRYPTIC_NET_PMUX" if arch == platform.machine() else f"CRYPTIC_NET_PMUX_{arch.upper()}"
            )
            found = Path(given) if given else None
        if found is None and arch == platform.machine() and name != "pmux":
            found = Path(shutil.which(name) or "/nonexistent")
        if found is None and name == "pmux":
            # The Go module proxy refuses pmux (nix/pins.json): the tests' stand-in, a script.
            found = work / f"pmux-standin-{arch}"
            found.write_text(
                f"#!{sys.executable}\n" + (REPO / "tests/integration/pmux_standin.py").read_text()
            )
            found.chmod(0o755)
            note = f"{arch}: pmux is the tests' STAND-IN (Python), not pmux"
        if found is None or not found.exists():
            sys.exit(f"bench: no {arch} {name} (tests/build-shipped {arch})")
        (d / name).symlink_to(found.resolve())
    return d, note


def assemble_beta(arch: str, bin_dir: Path, work: Path) -> Path:
    """beta's AppDir for one architecture: the example inventory with beta's `arch` set."""
    inv = copy_inventory(work / f"inv-{arch}")
    host_file = inv / "hosts" / "beta.yml"
    host_file.write_text(host_file.read_text() + f"arch: {arch}\n")
    out = work / f"appdir-beta-{arch}"
    argv = ["appdir", "beta", "--root", str(inv), "--bin-dir", str(bin_dir), "--out", str(out)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1"}
    subprocess.run([sys.executable, "-m", "cryptic_net", *argv], check=True, cwd=REPO, env=env)
    return out


def run_quiet(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def exec_time(program: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run([str(program), "-version"], capture_output=True, check=True, timeout=60)
        times.append(time.monotonic() - t0)
    return statistics.median(times)


def one_run(appdirs: dict[str, Path], beta: list[str], work: Path) -> dict[str, float]:
    lab = netns.Lab(UNDERLAY)
    lab.up()
    env = {k: v for k, v in os.environ.items() if k not in ("APPDIR", "ARGV0")}
    env["CRYPTIC_NET_LOCK_DIR"] = str(work / "locks")
    env["TMPDIR"] = str(work / "rt-tmp")  # the AppImage's mount point
    Path(env["TMPDIR"]).mkdir(exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    result: dict[str, float] = {}
    try:
        for host in ("lighthouse", "alpha"):
            procs[host] = run_quiet(netns.ns_exec(host, [str(appdirs[host] / "AppRun")]), env)
            netns.wait_until(f"{host} tun", lambda h=host: lab.link_exists(h, "cn-example"), TIMEOUT)
        t0 = time.monotonic()
        procs["beta"] = run_quiet(netns.ns_exec("beta", beta), env)
        threads = [
            threading.Thread(
                target=first_success,
                args=(lambda: lab.link_exists("beta", "cn-example"), t0, TIMEOUT, result, "tun"),
            ),
            threading.Thread(
                target=first_success,
                args=(lambda: ping_ok("alpha", "beta", TIMEOUT), t0, TIMEOUT, result, "ping"),
            ),
            threading.Thread(
                target=first_success, args=(lambda: dns_ok("beta", "alpha"), t0, TIMEOUT, result, "dns")
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(0.5)
        result["rss"] = sum(hwm_kib(p) for p in lab.pids("beta")) / 1024
    finally:
        for host, proc in procs.items():
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                    proc.wait(15)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            netns.kill_all(netns.ns_name(host))
        lab.down()
    return result


def mib(path: Path) -> str:
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    else:
        size = path.stat().st_size
    return f"{size / 2**20:.1f} MiB"


def med(values: list[float], unit: str, digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} {unit}" if values else "n/a"


def measure(arch: str, beta: Path, image: Path | None, lab: Setup) -> list[Row]:
    """The table's rows for beta built for one architecture: from its AppDir, then its AppImage."""
    starts = [("AppDir (AppRun)", [str(beta / "AppRun")])]
    if image:
        starts.append(("AppImage (FUSE mount)", [str(image)]))
    rows = []
    for how, argv in starts:
        runs = [one_run(lab.appdirs, argv, lab.work) for _ in range(lab.runs)]
        rows.append(
            (
                arch + (" (qemu-user)" if arch != platform.machine() else " (native)"),
                mib(beta / "bin" / "nebula"),
                mib(beta / "bin" / "dnsmasq"),
                mib(beta / "bin" / "pmux"),
                mib(beta),
                mib(image) if image else "no runtime",
                med([exec_time(beta / "bin" / "nebula", lab.runs)], "s", 3),
                how,
                med([r["tun"] for r in runs if "tun" in r], "s"),
                med([r["ping"] for r in runs if "ping" in r], "s"),
                med([r["dns"] for r in runs if "dns" in r], "s"),
                med([r["rss"] for r in runs], "MiB", 1),
                f"{sum('ping' in r for r in runs)}/{len(runs)}",
            )
        )
    return rows


HEADER = (
    "beta built for",
    "nebula",
    "dnsmasq",
    "pmux",
    "AppDir",
    "AppImage",
    "`nebula -version`",
    "beta started from",
    "start -> tun up",
    "start -> ping from alpha",
    "start -> DNS answer",
    "peak RSS of beta",
    "runs with a ping",
)


def print_table(rows: list[Row], n: int, notes: list[str]) -> None:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    qemu = subprocess.run(["qemu-aarch64-static", "--version"], capture_output=True, text=True, check=False)
    print(
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {cpu}, {os.cpu_count()} CPUs, "
        f"Linux {platform.release()}; {qemu.stdout.splitlines()[0] if qemu.stdout else 'qemu ?'}."
    )
    print(
        f"Lighthouse and alpha (x86_64) already up. Median of {n} runs in fresh network namespaces. "
        "The x86_64 AppImage has the tests' appimagetool's runtime (classic, x86_64), the aarch64 one the "
        "runtime given." + "".join(f" Note: {note}." for note in notes)
    )
    print()
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--runtime-aarch64", type=Path, help="a static type-2 AppImage runtime for aarch64")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespaces, tun)")
    if subprocess.run([str(REPO / "tests" / "setup-binfmt")], check=False).returncode != 0:
        sys.exit("bench: aarch64 programs cannot run here (tests/setup-binfmt)")
    with netns.exclusive(), tempfile.TemporaryDirectory(prefix="cnt-bench-") as tmp:
        work = Path(tmp)
        bins, notes = {}, []
        for arch in ("x86_64", "aarch64"):
            bins[arch], note = find_bin(arch, work)
            notes += [note] if note else []
        appdirs = {
            h: appimagetool.assemble(h, bins["x86_64"], work / f"appdir-{h}") for h in ("lighthouse", "alpha")
        }
        rows = []
        for arch in ("x86_64", "aarch64"):
            beta = assemble_beta(arch, bins[arch], work)
            runtime = args.runtime_aarch64 if arch == "aarch64" else None
            image = None
            if arch == "x86_64" or runtime:
                out = work / "images" / f"cnt-beta-{arch}.AppImage"
                image = appimagetool.build(beta, out, arch=arch, runtime_file=runtime)
            rows += measure(arch, beta, image, Setup(appdirs, work, args.runs))
    print_table(rows, args.runs, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
