#!/usr/bin/env python3
"""How long and how much memory `cryptic-net validate` takes on each hostile input.

Runs every case of tests/bad/ (plus a few extra-large ones made here) in a fresh process,
N times, and prints a table: median wall time and peak RSS of that process. The goal the
inventory issue sets: a located error within a second or two, in bounded memory.

    .venv/bin/python bench/validate_hostile.py [-n 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import copy_inventory  # noqa: E402
from tests.unit.test_bad_inputs import CASES, Case, apply, parse  # noqa: E402

MEASURE = (
    "import resource, subprocess, sys\n"
    "r = subprocess.run(sys.argv[1:], capture_output=True)\n"
    "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)

EXTRA = {
    "extra-50MB-file": Case("hosts/alpha.yml", [], None, 50 * 1024 * 1024 // 16, b"# padding 12345\n"),
    "extra-deep-100k": Case(
        "hosts/alpha.yml", [], None, 1, b"ip: " + b"[" * 100_000 + b"]" * 100_000 + b"\n"
    ),
    "extra-many-aliases": Case(
        "hosts/alpha.yml",
        [],
        None,
        1,
        b"a: &a [" + b"x," * 1000 + b"x]\nb: [" + b"*a," * 20_000 + b"*a]\n",
    ),
}


def measure(case: Case, runs: int) -> tuple[float, int, int]:
    times, rss, code = [], 0, 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            root = copy_inventory(Path(tmp) / "inv")
            apply(case, root)
            cmd = [
                sys.executable,
                "-c",
                MEASURE,
                sys.executable,
                "-m",
                "cryptic_net",
                "validate",
                "--root",
                str(root),
            ]
            start = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
            times.append(time.perf_counter() - start)
            code, rss = int(out[0]), max(rss, int(out[1]))
    return statistics.median(times), rss, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3, help="runs per case (default 3)")
    args = parser.parse_args()
    cases = {p.stem: parse(p) for p in CASES} | EXTRA
    print(f"{'case':40} {'exit':>4} {'median s':>9} {'peak RSS MiB':>13}")
    worst_t, worst_m = 0.0, 0
    for name, case in cases.items():
        seconds, rss_kib, code = measure(case, args.n)
        worst_t, worst_m = max(worst_t, seconds), max(worst_m, rss_kib)
        print(f"{name:40} {code:>4} {seconds:>9.3f} {rss_kib / 1024:>13.1f}")
    print(f"{'worst':40} {'':>4} {worst_t:>9.3f} {worst_m / 1024:>13.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
