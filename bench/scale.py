"""How `cryptic-net` scales with the number of hosts: validate, new-host, render.

For generated networks (bench/gen.py: real certificates, made once with nebula-cert and cached
under .cache/bench/) of 10, 100, 1,000 and 5,000 hosts, each command runs in a fresh process
and is measured from outside: wall time and CPU time (median of N runs; CPU time counts the
`nebula-cert` processes the old code started, and says more than wall time on a busy machine)
and the peak RSS of the largest process.

- `validate`: the whole inventory.
- `new-host`: one more host (on a throwaway copy of the inventory; it validates first, signs
  with nebula-cert, writes hosts/NAME.yml, .crt and .key).
- `render`: one host's configuration files (validates first).

With `--baseline REV` (default 9834a9b, the code before issue 12), the same commands also run
with that revision's code, checked out by `git worktree add` into a temporary directory outside
the repository (and removed afterwards), so the table shows before and after side by side.
Prints a Markdown table with the date and the machine; docs/scale.md keeps the last one.

    .venv/bin/python bench/scale.py [-n 3] [--sizes 10 100 1000 5000] [--baseline 9834a9b | --no-baseline]
                                    [--baseline-runs 1]

This is a benchmark, not a test: nothing here fails on a slow machine.
"""

# ruff: noqa: INP001 (a script, not a package)
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import gen  # noqa: E402 (bench/gen.py, beside this script)

MEASURE = (
    "import resource, subprocess, sys\n"
    "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(r.stderr[-2000:])\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(r.returncode, u.ru_maxrss, u.ru_utime + u.ru_stime)\n"
)


@dataclass
class Result:
    seconds: float  # wall
    cpu: float  # user + system, of the command and its children (nebula-cert)
    rss_mib: float
    ok: bool


def run(scripts: Path, args: list[str], runs: int, fresh: Path | None = None) -> Result:
    """Median wall time and peak RSS of `python -m cryptic_net ARGS` with the code in `scripts`.

    With `fresh`, each run gets its own copy of that inventory (for commands that write)."""
    times: list[float] = []
    cpus: list[float] = []
    rss = 0
    ok = True
    env = {**os.environ, "PYTHONPATH": str(scripts), "PYTHONDONTWRITEBYTECODE": "1"}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="cnt-scale-") as tmp:
            argv = list(args)
            if fresh is not None:
                copy = Path(tmp) / "inv"
                shutil.copytree(fresh, copy, symlinks=True)
                argv = [str(copy) if a == "{ROOT}" else a for a in argv]
            cmd = [sys.executable, "-c", MEASURE, sys.executable, "-m", "cryptic_net", *argv]
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True, cwd=tmp)
            times.append(time.perf_counter() - start)
            code, peak, cpu = done.stdout.split()
            cpus.append(float(cpu))
            ok = ok and code == "0"
            if code != "0":
                print(f"  ({' '.join(argv[:2])}: exit {code}) {done.stderr.strip()[-300:]}", file=sys.stderr)
            rss = max(rss, int(peak))
    return Result(statistics.median(times), statistics.median(cpus), rss / 1024, ok)


def measure(scripts: Path, n: int, runs: int) -> dict[str, Result]:
    root = gen.network(n)
    ca = gen.ca_dir(n)
    results = {
        "validate": run(scripts, ["validate", "--root", str(root)], runs),
    }
    new_host = ["new-host", "newcomer", "--root", "{ROOT}", "--bake-key"]
    new_host += ["--ca-crt", str(ca / "ca.crt"), "--ca-key", str(ca / "ca.key")]
    results["new-host"] = run(scripts, new_host, runs, fresh=root)
    with tempfile.TemporaryDirectory(prefix="cnt-scale-out-") as out:
        host = gen.host_name(n // 2)
        results["render"] = run(scripts, ["render", host, "--root", str(root), "--out", f"{out}/o"], runs)
    return results


def baseline_scripts(rev: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(into), rev],
        check=True,
        capture_output=True,
    )
    return into / "scripts"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    python = platform.python_version()
    return f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {python}"


def cell(result: Result | None) -> str:
    if result is None:
        return "-"
    flag = "" if result.ok else " (failed)"
    return f"{result.seconds:.2f} s ({result.cpu:.2f} s CPU), {result.rss_mib:.0f} MiB{flag}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--baseline", default="9834a9b", help="revision to compare with")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--baseline-runs", type=int, default=1, help="runs per baseline measurement (slow)")
    parser.add_argument(
        "--baseline-max", type=int, default=5000, help="skip the baseline above this many hosts"
    )
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    rows: list[tuple[int, str, Result | None, Result]] = []
    with tempfile.TemporaryDirectory(prefix="cnt-scale-base-") as tmp:
        old = None if args.no_baseline else baseline_scripts(args.baseline, Path(tmp) / "wt")
        try:
            for n in args.sizes:
                print(f"{n} hosts...", file=sys.stderr)
                new = measure(REPO / "scripts", n, args.n)
                before = (
                    measure(old, n, args.baseline_runs) if old is not None and n <= args.baseline_max else {}
                )
                rows += [(n, cmd, before.get(cmd), new[cmd]) for cmd in new]
        finally:
            if old is not None:
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(old.parent)],
                    check=False,
                    capture_output=True,
                )
    print(
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine()}; load average before: {load}."
    )
    print(
        f"before = {args.baseline} (median of {args.baseline_runs}), after = {head or 'working tree'} "
        f"(median of {args.n});\nwall time (CPU time: user + system, with child processes), peak RSS.\n"
    )
    print("| hosts | command | before | after |")
    print("|---:|---|---:|---:|")
    for n, cmd, before, after in rows:
        print(f"| {n:,} | {cmd} | {cell(before)} | {cell(after)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
