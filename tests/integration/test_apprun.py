"""AppRun's subcommands and every error path, on an AppDir from `cryptic-net appdir`.

Exit statuses (appdir/AppRun, docs/operating.md): 2 usage, 3 AppDir incomplete, 4 no root /
CAP_NET_ADMIN, 5 no /dev/net/tun, 6 already running, 7 lock not creatable, 8 check failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import Build, world_readable_copy

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.root, pytest.mark.integration]


def apprun(
    appdir: Path,
    *args: str,
    lock_dir: Path | None = None,
    prefix: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("APPDIR", "ARGV0")}
    if lock_dir is not None:
        full_env["CRYPTIC_NET_LOCK_DIR"] = str(lock_dir)
    full_env.update(env or {})
    return subprocess.run(
        [*prefix, str(appdir / "AppRun"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_help_lists_commands_and_exit_statuses(appdir: Path) -> None:
    r = apprun(appdir, "--help")
    assert r.returncode == 0
    for word in ("run", "check", "config", "version", "nebula-cert", "Exit status"):
        assert word in r.stdout


def test_usage_errors(appdir: Path) -> None:
    r = apprun(appdir, "frobnicate")
    assert r.returncode == 2
    assert "unknown command: frobnicate" in r.stderr
    r = apprun(appdir, "run", "extra")
    assert r.returncode == 2
    assert "run takes no arguments" in r.stderr


def test_incomplete_appdir(appdir: Path, lock_dir: Path) -> None:
    (appdir / "bin/pmux").unlink()
    r = apprun(appdir, "run", lock_dir=lock_dir)
    assert r.returncode == 3
    assert "bin/pmux is missing" in r.stderr
    (appdir / "etc/cryptic-net/host.env").unlink()
    r = apprun(appdir, "version")
    assert r.returncode == 3
    assert "host.env is missing" in r.stderr


def test_not_root_is_refused(builds: dict[str, Build], lock_dir: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv missing (util-linux)")
    copy = world_readable_copy(builds["alpha"].appdir)
    try:
        nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--")
        r = apprun(copy, "run", lock_dir=lock_dir, prefix=nobody)
        assert r.returncode == 4, r.stderr
        assert "must run as root (or with CAP_NET_ADMIN)" in r.stderr
        # uid 0 without capabilities (a locked-down container) is refused the same way.
        no_caps = ("setpriv", "--inh-caps=-all", "--bounding-set=-all", "--")
        r = apprun(copy, "run", lock_dir=lock_dir, prefix=no_caps)
        assert r.returncode == 4, r.stderr
    finally:
        shutil.rmtree(copy.parent)


def test_missing_tun_is_refused(appdir: Path, lock_dir: Path) -> None:
    # Hide /dev/net/tun in a private mount namespace only.
    hide = (
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        'mount -t tmpfs none /dev/net && exec "$@"',
        "hide-tun",
    )
    r = apprun(appdir, "run", lock_dir=lock_dir, prefix=hide)
    assert r.returncode == 5, r.stderr
    assert "/dev/net/tun is missing or not usable" in r.stderr
    r = apprun(appdir, "check", lock_dir=lock_dir, prefix=hide)
    assert r.returncode == 8
    assert "FAIL  /dev/net/tun" in r.stdout


@pytest.fixture
def held_lock(lock_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    lock = lock_dir / "example-alpha.lock"
    holder = subprocess.Popen(["flock", "--exclusive", str(lock), "sleep", "60"])
    try:
        for _ in range(100):  # until flock has it (bounded: 5 s)
            if subprocess.run(["flock", "-n", str(lock), "true"], check=False).returncode != 0:
                break
            subprocess.run(["sleep", "0.05"], check=False)
        yield holder
    finally:
        holder.kill()
        holder.wait(5)


def test_second_instance_is_refused(appdir: Path, lock_dir: Path, held_lock: object) -> None:
    r = apprun(appdir, "run", lock_dir=lock_dir)
    assert r.returncode == 6, r.stderr
    assert "another instance of host alpha of network example is already running" in r.stderr
    assert str(lock_dir / "example-alpha.lock") in r.stderr
    r = apprun(appdir, "check", lock_dir=lock_dir)
    assert r.returncode == 8
    assert "FAIL  another instance" in r.stdout


def no_flock(tmp_path: Path) -> tuple[str, ...]:
    """A prefix that hides flock(1) (AppRun sets its own PATH): an empty, non-executable file
    bind-mounted over it in a private mount namespace."""
    flock = shutil.which("flock")
    assert flock, "flock (util-linux)"
    empty = tmp_path / "no-flock"
    empty.write_text("")
    empty.chmod(0o644)
    script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
    return (
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        "hide",
        str(empty),
        flock,
    )


def test_lock_fallback_without_flock(appdir: Path, lock_dir: Path, tmp_path: Path) -> None:
    hide = no_flock(tmp_path)
    lock_d = lock_dir / "example-alpha.lock.d"
    lock_d.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (lock_d / "owner").write_text(f"{sleeper.pid} {proc_start(sleeper.pid)}\n")
        r = apprun(appdir, "run", lock_dir=lock_dir, prefix=hide)
        assert r.returncode == 6, r.stderr
        assert f"by PID {sleeper.pid}" in r.stderr
    finally:
        sleeper.kill()
        sleeper.wait(5)
    # The holder is gone: the lock is stale, taken over (and released again by check).
    r = apprun(appdir, "check", lock_dir=lock_dir, prefix=hide)
    assert "removing stale lock" in r.stdout
    assert f"ok    lock {lock_dir}/example-alpha.lock is free" in r.stdout
    assert not lock_d.exists()
    assert not list(lock_dir.iterdir())


def proc_start(pid: int) -> str:
    """Field 22 of /proc/PID/stat: the start time that tells a reused PID apart."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[19]


def test_lock_dir_not_creatable(appdir: Path) -> None:
    r = apprun(appdir, "run", env={"CRYPTIC_NET_LOCK_DIR": "/proc/cryptic-net-test"})
    assert r.returncode == 7, r.stderr
    assert "cannot create the lock directory /proc/cryptic-net-test" in r.stderr


def test_check_reports_port_53_taken(appdir: Path, lock_dir: Path) -> None:
    # In an empty network namespace: a wildcard DNS listener blocks dnsmasq's bind.
    code = (
        "import socket, subprocess, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 53))\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(r.stdout, end=''); sys.exit(r.returncode)\n"
    )
    r = apprun(
        appdir, "check", lock_dir=lock_dir, prefix=("unshare", "--net", "--", sys.executable, "-c", code)
    )
    assert r.returncode == 8, r.stdout + r.stderr
    assert "FAIL  port 53 on 10.42.0.2 is taken" in r.stdout
    assert "udp 00000000:0035" in r.stdout


def test_check_passes_on_a_good_appdir(appdir: Path, lock_dir: Path) -> None:
    r = apprun(appdir, "check", lock_dir=lock_dir, prefix=("unshare", "--net", "--"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "all checks passed"


def key_lines(appdir: Path) -> list[str]:
    lines = (appdir / "etc/nebula/host.key").read_text().splitlines()
    return [line for line in lines if line and not line.startswith(("-----", "#"))]


def test_config_never_prints_the_private_key(appdir: Path) -> None:
    secret = key_lines(appdir)
    assert secret
    r = apprun(appdir, "config")
    assert r.returncode == 0
    assert "alpha" in r.stdout
    assert "BEGIN NEBULA CERTIFICATE" in r.stdout
    assert "PRIVATE KEY" not in r.stdout
    for line in secret:
        assert line not in r.stdout
    # nebula also accepts the key inline in nebula.yml: config redacts that too.
    conf = appdir / "etc/nebula/nebula.yml"
    key = (appdir / "etc/nebula/host.key").read_text()
    inline = "key: |\n" + "".join(f"    {line}\n" for line in key.splitlines())
    conf.write_text(conf.read_text().replace("key: etc/nebula/host.key\n", inline))
    r = apprun(appdir, "config")
    assert r.returncode == 0
    assert "(private key not shown)" in r.stdout
    for line in secret:
        assert line not in r.stdout


def test_version(appdir: Path) -> None:
    r = apprun(appdir, "version")
    assert r.returncode == 0, r.stderr
    nebula = subprocess.run(["nebula", "-version"], capture_output=True, text=True, check=True)
    assert r.stdout.startswith("cryptic-net ")
    assert "network example, host alpha, overlay 10.42.0.2/24" in r.stdout
    assert f"nebula {nebula.stdout.split()[-1]}" in r.stdout
    assert "Dnsmasq version" in r.stdout


def test_nebula_cert_passthrough_keeps_the_callers_directory(appdir: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(appdir / "etc/nebula/host.crt", work / "mine.crt")
    r = apprun(appdir, "nebula-cert", "print", "-path", "mine.crt", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "alpha" in r.stdout
    r = apprun(appdir, "nebula-cert", "print", "-path", "missing.crt", cwd=work)
    assert r.returncode != 0


def test_apprun_is_posix_sh() -> None:
    apprun_src = Path(__file__).resolve().parents[2] / "appdir" / "AppRun"
    for shell in ("dash", "sh"):
        if shutil.which(shell):
            subprocess.run([shell, "-n", str(apprun_src)], check=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (Debian: shellcheck); syntax checked with sh -n")
    r = subprocess.run(
        ["shellcheck", "-s", "sh", str(apprun_src)], capture_output=True, text=True, check=False
    )
    assert r.returncode == 0, r.stdout
