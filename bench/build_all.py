"""Glue time to produce every host's AppDir of a network: validate per host vs once per network.

For generated networks (bench/gen.py, real certificates) of 10, 100 and 1,000 hosts, prints a
Markdown table of the CPU time (user + system, of the glue and anything it runs) the glue
spends, as the Nix build runs it (one process per step). CPU time, not wall time: the number
stays meaningful on a shared machine, and with one core per build it is the wall time too.

- today's way (before issue 7): `cryptic-net appdir HOST --root R` once per host; each run
  validates the whole inventory, every certificate included. Where running it for
  every host would take too long (`--old-sample`), a sample of hosts is timed and the total is
  their mean times the number of hosts (the table says so).
- the new way: `cryptic-net describe` once (nix/description.nix), then
  `cryptic-net appdir HOST --description network.json` once per host (nix/host.nix); every host
  is timed, and the total is the sum.
- one host's render at that size: the median CPU time of one per-host process (interpreter
  start-up included), and the median in-process time of reading the description and rendering
  (`inventory_for_host` + `render_host`).

The glue runs from byte-compiled modules, as the Nix package has them (nixpkgs' install hook,
pkgs/development/interpreters/python/hooks/pypa-install-hook.sh, runs `python -m installer`,
which writes .pyc files by default); without them every process would compile its modules from
source again (with PYTHONDONTWRITEBYTECODE set, as in some shells, every time).

The AppDirs get the real nebula, nebula-cert and dnsmasq from PATH (symlinks; `appdir` copies
them, as in the Nix build) and pmux from $CRYPTIC_NET_PMUX or a stand-in script. Each AppDir is
deleted after it is timed (outside the timing). Usage, from the repository root:

    .venv/bin/python bench/build_all.py [--sizes 10 100 1000] [--old-sample 5]
"""

# ruff: noqa: INP001 (a script, not a package)
from __future__ import annotations

import argparse
import compileall
import datetime as dt
import os
import platform
import py_compile
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import gen  # noqa: E402 (bench/gen.py, the shared generator of networks)

import cryptic_net  # noqa: E402
from cryptic_net.describe import inventory_for_host  # noqa: E402
from cryptic_net.render import render_host  # noqa: E402

GLUE = [sys.executable, "-m", "cryptic_net"]


def bin_dir(work: Path) -> tuple[Path, str]:
    bins = work / "bin"
    bins.mkdir()
    for name in ("nebula", "nebula-cert", "dnsmasq"):
        found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if found is None:
            sys.exit(f"build_all: {name} not on PATH")
        (bins / name).symlink_to(found)
    pmux = os.environ.get("CRYPTIC_NET_PMUX") or shutil.which("pmux")
    if pmux:
        (bins / "pmux").symlink_to(Path(pmux).resolve())
        return bins, "pmux: real"
    (bins / "pmux").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    (bins / "pmux").chmod(0o755)
    return bins, "pmux: stand-in script (a few bytes instead of a few MB to copy)"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], out: Path) -> float:
    """CPU seconds (user + system) of one glue process: what it costs, however busy the machine."""
    before = children_cpu()
    proc = subprocess.run(
        [*GLUE, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1"},
    )
    elapsed = children_cpu() - before
    if proc.returncode != 0:
        sys.exit(f"build_all: cryptic-net {' '.join(args[:2])} failed:\n{proc.stderr}")
    shutil.rmtree(out, ignore_errors=True)
    return elapsed


def hosts_of(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "hosts").glob("*.yml"))


def evenly(items: list[str], k: int) -> list[str]:
    if k >= len(items):
        return items
    step = len(items) / k
    return [items[int(i * step)] for i in range(k)]


def measure(n: int, bins: Path, work: Path, old_sample: int) -> dict[str, float | int | bool]:
    root = gen.network(n)
    hosts = hosts_of(root)
    out = work / "AppDir"

    old_hosts = evenly(hosts, old_sample) if old_sample and n > old_sample else hosts
    old_times = [
        timed(["appdir", h, "--root", str(root), "--bin-dir", str(bins), "--out", str(out)], out)
        for h in old_hosts
    ]

    description = work / f"network-{n}.json"
    describe_s = timed(["describe", "--root", str(root), "--out", str(description)], work / "none")
    per_host = ["--root", str(root), "--description", str(description), "--bin-dir", str(bins)]
    new_times = [timed(["appdir", h, *per_host, "--out", str(out)], out) for h in hosts]

    in_process = []
    for h in evenly(hosts, 5):
        start = time.process_time()
        render_host(inventory_for_host(description, root, h), h)
        in_process.append(time.process_time() - start)

    return {
        "n": n,
        "old_per_host": statistics.mean(old_times),
        "old_total": statistics.mean(old_times) * n,
        "old_sampled": len(old_hosts) < n,
        "old_hosts": len(old_hosts),
        "describe": describe_s,
        "new_per_host": statistics.median(new_times),
        "new_total": describe_s + sum(new_times),
        "render_in_process": statistics.median(in_process),
    }


def fmt_ms(seconds: float) -> str:
    """Per-host times in milliseconds: the goal (0.1 s) is too close for two digits of seconds."""
    return f"{seconds * 1000:.0f} ms"


def fmt_s(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument(
        "--old-sample",
        type=int,
        default=5,
        help="time today's way on this many hosts per network and extrapolate (0: every host)",
    )
    args = parser.parse_args()
    # Checked-hash .pyc files, as SOURCE_DATE_EPOCH makes them in a Nix build (py_compile).
    compileall.compile_dir(
        Path(cryptic_net.__file__).parent,
        quiet=1,
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )
    with tempfile.TemporaryDirectory(prefix="cnt-build-all-") as tmp:
        work = Path(tmp)
        bins, pmux_note = bin_dir(work)
        rows = [measure(n, bins, work, args.old_sample) for n in args.sizes]

    cpu = platform.processor() or platform.machine()
    print(f"Glue CPU time to produce every host's AppDir, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    python = platform.python_version()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Machine: {platform.node()}, {os.cpu_count()} CPUs ({cpu}), {platform.platform()}, Python {python}"
    )
    print(f"Load average at the end: {load} (other work shares the machine); {pmux_note}")
    print()
    print(
        "| hosts | today: per host | today: all hosts | new: describe (once) | new: per host "
        "(median) | new: all hosts | one host's render, in-process (median) | speed-up |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        old_total = fmt_s(float(r["old_total"]))
        if r["old_sampled"]:
            old_total += f" (mean of {r['old_hosts']} hosts x {r['n']})"
        print(
            f"| {r['n']} | {fmt_ms(float(r['old_per_host']))} | {old_total} | {fmt_s(float(r['describe']))} "
            f"| {fmt_ms(float(r['new_per_host']))} | {fmt_s(float(r['new_total']))} "
            f"| {float(r['render_in_process']) * 1000:.0f} ms "
            f"| {float(r['old_total']) / float(r['new_total']):.0f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
