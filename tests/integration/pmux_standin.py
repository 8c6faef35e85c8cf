"""A test stand-in for pmux, used only when no real pmux binary is available.

It runs the processes of a pmux.yml the way pmux a451ee6 does (pmuxlib/proc.go):
- `cmd` with `args`, environment = ours plus `env`, working directory `dir` or ours;
- each child in its own process group (Setpgid), so a signal to us is not a signal to them;
- SIGINT or SIGTERM to us: SIGINT to every child's group, SIGKILL after `sigKillWait`;
- every output line goes to our stdout/stderr as `name SEP line` (pmux's separators);
- a child that exits on its own is restarted after max(minWait, ...) (simplified backoff).

The integration tests never use it to claim pmux's supervision works: restart and merged
log assertions run only against the real pmux. Installed into a test bin dir as `pmux` with
the tests' own interpreter in the shebang (it needs pyyaml).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

# pmux's separators (pmuxlib/logger.go): stdout, stderr, pmux's own messages.
SEP_OUT, SEP_ERR, SEP_SYS = "\u203a", "\u00bb", "~"
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(value: Any, default: float) -> float:
    """Parse a Go duration ("1s", "1m30s"); a bare integer is nanoseconds, as in pmux."""
    if value is None or value in (0, ""):
        return default
    if isinstance(value, int):
        return value * 1e-9
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", str(value)):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(str(value)):
        sys.exit(f"pmux stand-in: bad duration {value!r}")
    return total


class Proc:
    def __init__(self, cfg: dict[str, Any], stop: threading.Event, lock: threading.Lock) -> None:
        self.name = str(cfg["name"])
        self.cmd = [str(cfg["cmd"]), *(str(a) for a in cfg.get("args") or [])]
        self.env = {**os.environ, **{str(k): str(v) for k, v in (cfg.get("env") or {}).items()}}
        self.dir = cfg.get("dir") or None
        self.min_wait = duration(cfg.get("minWait"), 1.0)
        self.max_wait = duration(cfg.get("maxWait"), 64.0)
        self.kill_wait = duration(cfg.get("sigKillWait"), 10.0)
        self.stop = stop
        self.lock = lock
        self.child: subprocess.Popen[bytes] | None = None

    def log(self, stream: Any, sep: str, line: str) -> None:
        with self.lock:
            stream.write(f"{self.name} {sep} {line}\n")
            stream.flush()

    def pump(self, pipe: Any, stream: Any, sep: str) -> None:
        for raw in iter(pipe.readline, b""):
            self.log(stream, sep, raw.decode(errors="replace").rstrip("\n"))

    def run(self) -> None:
        wait = 0.0
        self.log(sys.stderr, SEP_SYS, "starting process")
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                self.child = subprocess.Popen(
                    self.cmd,
                    cwd=self.dir,
                    env=self.env,
                    process_group=0,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            except OSError as e:
                self.log(sys.stderr, SEP_SYS, f"exited: starting process: {e}")
            else:
                pumps = [
                    threading.Thread(target=self.pump, args=(self.child.stdout, sys.stdout, SEP_OUT)),
                    threading.Thread(target=self.pump, args=(self.child.stderr, sys.stderr, SEP_ERR)),
                ]
                for t in pumps:
                    t.start()
                code = self.child.wait()
                for t in pumps:
                    t.join()
                self.log(sys.stderr, SEP_SYS, f"exit code: {code}")
            if self.stop.is_set():
                break
            took = time.monotonic() - started
            wait = min(max(wait * 2 - took, self.min_wait), self.max_wait)
            self.log(sys.stderr, SEP_SYS, f"will restart process in {wait:.3f}s")
            self.stop.wait(wait)
        self.log(sys.stderr, SEP_SYS, "stopped process handler")

    def terminate(self) -> None:
        child = self.child
        if child is None or child.poll() is not None:
            return
        self.log(sys.stderr, SEP_SYS, "sending interrupt signal")
        try:
            os.killpg(child.pid, signal.SIGINT)
        except ProcessLookupError:
            return
        try:
            child.wait(self.kill_wait)
        except subprocess.TimeoutExpired:
            self.log(sys.stderr, SEP_SYS, "sending killed signal")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)


def main(argv: list[str]) -> int:  # noqa: C901 (one flat sequence; splitting hides the order)
    cfg_path = "./pmux.yml"
    if len(argv) == 2 and argv[0] == "-c":
        cfg_path = argv[1]
    elif argv:
        sys.exit("usage: pmux [-c pmux.yml]")
    cfg = yaml.safe_load(Path(cfg_path).read_text())
    print(f"pmux stand-in: running {cfg_path} (no real pmux)", file=sys.stderr, flush=True)
    stop = threading.Event()
    lock = threading.Lock()
    procs = [Proc(p, stop, lock) for p in cfg["processes"]]
    threads = [threading.Thread(target=p.run) for p in procs]
    got = threading.Event()

    def on_signal(_sig: int, _frame: Any) -> None:
        if got.is_set():  # second signal: give up like pmux does
            os._exit(1)
        got.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for t in threads:
        t.start()
    while not got.wait(0.2):
        pass
    stop.set()
    stoppers = [threading.Thread(target=p.terminate) for p in procs]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join()
    for p in procs:  # a child started in the instant before `stop` was set
        p.terminate()
    for t in threads:
        t.join()
    print("pmux stand-in: exited gracefully", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
