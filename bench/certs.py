#!/usr/bin/env python3
"""Reading and verifying N host certificates: in-process (cryptic_net.certs) vs nebula-cert.

Makes a CA and N host certificates with nebula-cert for each format (version 1 Curve25519, what
`new-host` makes today; version 2 Curve25519 and P-256 where the nebula-cert is 1.10+), then
times, for every host, `certs.cert_info` + `certs.verify` against the CA (what `validate` does
per host), and the old way: `nebula-cert print -json` + `nebula-cert verify`, one after the
other, for every nebula-cert given. Prints a Markdown table with date and machine.

    .venv/bin/python bench/certs.py [-n 1000] [--nebula-cert PATH]... [--dir DIR]

--dir keeps the certificates between runs (made once, about 10 ms each per nebula-cert sign).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from cryptic_net import certs  # noqa: E402


def version(tool: str) -> tuple[int, ...]:
    out = subprocess.run([tool, "-version"], capture_output=True, text=True, check=False).stdout
    return tuple(int(x) for x in out.split()[-1].split("."))


def make(tool: str, where: Path, flags: tuple[list[str], list[str]], n: int) -> list[Path]:
    ca_flags, sign_flags = flags
    where.mkdir(parents=True, exist_ok=True)
    ca, key = where / "ca.crt", where / "ca.key"
    if not ca.exists():
        args = [tool, "ca", "-name", "bench", *ca_flags, "-out-crt", ca, "-out-key", key]
        subprocess.run(args, check=True, capture_output=True)

    def one(i: int) -> Path:
        crt = where / f"h{i:05d}.crt"
        if not crt.exists():
            ip = f"10.{100 + i // 65536}.{i // 256 % 256}.{i % 256}/8"
            args = ["sign", "-ca-crt", ca, "-ca-key", key, "-name", f"h{i}", "-groups", "a,b,c", *sign_flags]
            args += [ip, "-out-crt", crt, "-out-key", where / f"h{i:05d}.key"]
            subprocess.run([tool, *args], check=True, capture_output=True)
        return crt

    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        return list(pool.map(one, range(1, n + 1)))


def in_process(ca: Path, hosts: list[Path]) -> float:
    start = time.perf_counter()
    for host in hosts:
        certs.cert_info(host)
        assert certs.verify(ca, host) is None, host
    return time.perf_counter() - start


def subprocesses(tool: str, ca: Path, hosts: list[Path]) -> float:
    start = time.perf_counter()
    for host in hosts:
        subprocess.run([tool, "print", "-json", "-path", host], capture_output=True, check=True)
        subprocess.run([tool, "verify", "-ca", ca, "-crt", host], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="host certificates per format")
    parser.add_argument("--nebula-cert", action="append", help="nebula-cert to compare (repeatable)")
    parser.add_argument("--dir", type=Path, help="keep the certificates here between runs")
    opts = parser.parse_args()
    tools = opts.nebula_cert or [t for t in [shutil.which("nebula-cert")] if t]
    if not tools:
        sys.exit("bench/certs.py: no nebula-cert on PATH")
    maker = max(tools, key=version)
    modern = version(maker) >= (1, 10)
    root = opts.dir or Path(tempfile.mkdtemp(prefix="cnt-bench-certs-"))
    v1 = ["-version", "1"] if modern else []
    ip = "-networks" if modern else "-ip"
    formats = {"v1 Curve25519": (v1, [*v1, ip])}
    if modern:
        v2 = ["-version", "2"]
        formats |= {"v2 Curve25519": (v2, [*v2, ip]), "v2 P-256": ([*v2, "-curve", "P256"], [*v2, ip])}

    rows = []
    for label, flags in formats.items():
        where = root / label.replace(" ", "-")
        hosts = make(maker, where, flags, opts.n)
        in_process(where / "ca.crt", hosts[:20])  # warm up: imports, CA pool cache
        rows.append((label, "in-process (cryptic_net.certs)", opts.n, in_process(where / "ca.crt", hosts)))
        if label.startswith("v1"):
            for tool in tools:
                way = f"nebula-cert {'.'.join(map(str, version(tool)))} print -json + verify"
                rows.append((label, way, opts.n, subprocesses(tool, where / "ca.crt", hosts)))

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    print(f"Reading + verifying host certificates, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {cpu}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}\n")  # fmt: skip
    print("| certificates | way | hosts | total s | per host ms |")
    print("|---|---|---:|---:|---:|")
    for label, way, n, seconds in rows:
        print(f"| {label} | {way} | {n} | {seconds:.3f} | {seconds / n * 1000:.3f} |")
    if opts.dir is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
