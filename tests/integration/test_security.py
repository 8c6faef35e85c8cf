"""Run-time security of AppRun and of the AppImages the tests build (docs/security.md).

Each test is one claim of docs/security.md, reproduced as an attack where there is one:
a pre-created extraction directory, an AppDir others can change, a hostile environment
(APPDIR, CDPATH, PATH), a host.env that would run a command if it were sourced, nebula-cert
as root, baked and kept-on-host keys, the lock without flock, and running without FUSE.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import netns
import pytest
from conftest import Build, children, comm, world_readable_copy
from test_apprun import apprun, no_flock, proc_start

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.root, pytest.mark.integration]


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} missing (util-linux)")
    return found


# Absolute paths: some tests give AppRun a hostile PATH.
NOBODY = (tool("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups", "--")
NO_NET = (tool("unshare"), "--net", "--")


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A /tmp-like directory: root's, writable by everyone, sticky."""
    d = Path(tempfile.mkdtemp(prefix=netns.PREFIX, dir="/tmp"))
    d.chmod(0o1777)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("APPDIR", "APPIMAGE", "ARGV0", "OWD")}
    env.update(extra)
    return env


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


# --- the extraction directory (issue 10, 1 and 2) -------------------------------------------


def test_symlink_attack_on_the_classic_runtime_is_refused_by_apprun(
    builds: dict[str, Build], shared_tmp: Path, lock_dir: Path
) -> None:
    # The classic AppImageKit runtime (the one the tests' appimagetool embeds) extracts
    # --appimage-extract-and-run into $TMPDIR/appimage_extracted_<md5 of the image>, a name
    # any local user can predict and pre-create, and writes through symlinks it finds there.
    # That runtime cannot be fixed here (it comes prebuilt inside the appimagetool); ours
    # (pkgs/appimage-runtime) extracts into a fresh mkdtemp directory instead, which the NixOS
    # VM check proves. What AppRun can do, it does: it refuses to start anything as root from
    # a tree someone else owns. (An attacker who also pre-places an AppRun of the same size
    # defeats any check in AppRun: only the runtime can prevent that.)
    image = builds["alpha"].appimage
    tree = shared_tmp / f"appimage_extracted_{md5(image)}"
    loot = shared_tmp / "loot"
    marker = shared_tmp / "ran-as-root"
    # An evil pmux of exactly the genuine size: the runtime skips files whose size matches.
    size = (builds["alpha"].appdir / "bin/pmux").stat().st_size
    evil = f"#!/bin/sh\ntouch {marker}\n"
    evil += "#" * (size - len(evil) - 1) + "\n"
    assert len(evil) == size
    plant = (
        f"mkdir -m 0777 {loot} && mkdir -m 0755 {tree} {tree}/bin && ln -s {loot} {tree}/etc"
        f" && cat > {tree}/bin/pmux && chmod 0755 {tree}/bin/pmux"
    )
    subprocess.run([*NOBODY, "sh", "-c", plant], input=evil, text=True, check=True)

    r = subprocess.run(
        [*NO_NET, str(image), "--appimage-extract-and-run", "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(TMPDIR=str(shared_tmp), CRYPTIC_NET_LOCK_DIR=str(lock_dir)),
        check=False,
    )
    assert r.returncode == 9, r.stdout + r.stderr
    assert f"refusing to run {tree} as root: {tree} is not owned by root" in r.stderr
    assert "docs/security.md" in r.stderr
    # Nothing from the tampered tree ran as root.
    assert not marker.exists()
    # The flaw itself, which only the runtime can fix: root wrote into the attacker's directory.
    written = loot / "cryptic-net" / "host.env"
    assert written.is_file()
    assert written.stat().st_uid == 0


@pytest.mark.parametrize("where", ["appdir", "inside", "parent"])
def test_appdir_others_can_change_is_refused(appdir: Path, lock_dir: Path, where: str) -> None:
    if where == "appdir":
        appdir.chmod(0o777)
        culprit = appdir
    elif where == "inside":
        culprit = appdir / "bin"
        os.chown(culprit, 65534, 65534)
    else:
        culprit = appdir.parent
        culprit.chmod(0o777)  # writable by all, not sticky: others may rename the AppDir
    r = apprun(appdir, "run", lock_dir=lock_dir, prefix=NO_NET)
    assert r.returncode == 9, r.stderr
    assert r.stderr.startswith(f"AppRun: error: refusing to run {appdir} as root: {culprit} ")
    assert r.stderr.count("\n") == 1
    # check reports the same, and runs nothing from that tree (no nebula -test).
    r = apprun(appdir, "check", lock_dir=lock_dir, prefix=NO_NET)
    assert r.returncode == 8
    assert f"FAIL  refusing to run {appdir} as root: {culprit} " in r.stdout
    assert "FAIL  nebula and dnsmasq configuration tests not run" in r.stdout
    assert "nebula -test" not in r.stdout
    # As root, version would run bin/nebula: refused too; config only reads.
    assert apprun(appdir, "version").returncode == 9
    assert apprun(appdir, "config").returncode == 0


def test_safe_appdir_passes(appdir: Path, lock_dir: Path) -> None:
    r = apprun(appdir, "check", lock_dir=lock_dir, prefix=NO_NET)
    assert r.returncode == 0, r.stdout
    assert f"ok    only root can change {appdir}" in r.stdout


# --- a hostile environment (issue 11, 3) -----------------------------------------------------


def test_inherited_appdir_must_match(appdir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(appdir, elsewhere, symlinks=True)
    r = apprun(appdir, "version", env={"APPDIR": str(elsewhere)})
    assert r.returncode == 3, r.stderr
    assert f"APPDIR={elsewhere} is not the AppDir this AppRun lives in ({appdir}); unset APPDIR" in r.stderr
    # Where they agree (as the runtime sets it), fine.
    assert apprun(appdir, "version", env={"APPDIR": str(appdir)}).returncode == 0


def test_cdpath_does_not_move_the_appdir(appdir: Path, tmp_path: Path) -> None:
    # With a relative $0, `cd appdir` would follow CDPATH to a decoy of the same name.
    decoy = tmp_path / "decoys" / "appdir"
    shutil.copytree(appdir, decoy, symlinks=True)
    env_file = decoy / "etc/cryptic-net/host.env"
    env_file.write_text(env_file.read_text().replace("CRYPTIC_NET_HOST='alpha'", "CRYPTIC_NET_HOST='decoy'"))
    r = subprocess.run(
        ["appdir/AppRun", "version"],
        cwd=appdir.parent,
        env=clean_env(CDPATH=str(decoy.parent)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert "host alpha" in r.stdout


def test_path_is_reset(appdir: Path, lock_dir: Path, tmp_path: Path) -> None:
    evil = tmp_path / "evil-bin"
    evil.mkdir()
    marker = tmp_path / "evil-ran"
    tool_touch = tool("touch")
    for name in ("id", "find", "flock", "cat", "sed", "mkdir", "sleep", "rm", "mv"):
        (evil / name).write_text(f"#!/bin/sh\n{tool_touch} {marker}\nexit 0\n")
        (evil / name).chmod(0o755)
    r = apprun(appdir, "check", lock_dir=lock_dir, prefix=NO_NET, env={"PATH": str(evil)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    "line",
    [
        # issue 11's reproduction: a network name with a newline made this a command.
        "Do\n",
        "CRYPTIC_NET_HOST='alpha'; touch {marker}\n",
        'CRYPTIC_NET_HOST="$(touch {marker})"\n',
        "CRYPTIC_NET_HOST=`touch {marker}`\n",
        "CRYPTIC_NET_HOST='al'pha'\n",
        "CRYPTIC_NET_HOST='al\rpha'\n",
        "PATH='/tmp'\n",
    ],
)
def test_host_env_is_parsed_never_sourced(appdir: Path, tmp_path: Path, line: str) -> None:
    marker = tmp_path / "sourced"
    bin_dir = tmp_path / "path"
    bin_dir.mkdir()
    (bin_dir / "Do").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (bin_dir / "Do").chmod(0o755)
    env_file = appdir / "etc/cryptic-net/host.env"
    env_file.write_text(env_file.read_text() + line.format(marker=marker))
    r = apprun(appdir, "version", env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert r.returncode == 3, r.stderr
    assert f"malformed AppDir: {env_file}:" in r.stderr
    assert "rebuild the host" in r.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("CRYPTIC_NET_HOST", "../../etc/x"),
        ("CRYPTIC_NET_PMUX_CONFIG", "/etc/shadow"),
        ("CRYPTIC_NET_NEBULA_CONFIG", "etc/../../x.yml"),
        ("CRYPTIC_NET_IP", "10.42.0.2;x"),
    ],
)
def test_host_env_values_are_checked_for_their_use(appdir: Path, setting: str, value: str) -> None:
    env_file = appdir / "etc/cryptic-net/host.env"
    lines = [
        f"{setting}='{value}'" if line.startswith(f"{setting}=") else line
        for line in env_file.read_text().splitlines()
    ]
    env_file.write_text("\n".join(lines) + "\n")
    r = apprun(appdir, "version")
    assert r.returncode == 3, r.stderr
    assert "malformed AppDir" in r.stderr


def test_nebula_cert_as_root_only_reads(appdir: Path, tmp_path: Path, builds: dict[str, Build]) -> None:
    target = tmp_path / "victim"
    target.write_text("precious\n")
    r = apprun(appdir, "nebula-cert", "keygen", "-out-key", str(target), "-out-pub", str(tmp_path / "pub"))
    assert r.returncode == 2, r.stderr
    assert "nebula-cert keygen is refused as root (it writes files)" in r.stderr
    assert target.read_text() == "precious\n"
    assert not (tmp_path / "pub").exists()
    r = apprun(appdir, "nebula-cert", "print", "-path", str(appdir / "etc/nebula/host.crt"))
    assert r.returncode == 0, r.stderr
    # As an ordinary user it is that user's own tool.
    copy = world_readable_copy(builds["alpha"].appdir)
    try:
        work = copy.parent / "work"
        work.mkdir()
        os.chown(work, 65534, 65534)
        r = apprun(copy, "nebula-cert", "keygen", "-out-key", "k", "-out-pub", "p", prefix=NOBODY, cwd=work)
        assert r.returncode == 0, r.stderr
        assert (work / "k").stat().st_uid == 65534
    finally:
        shutil.rmtree(copy.parent)


# --- keys (issue 10, 3; issue 8, 5) ----------------------------------------------------------


def test_baked_key_in_an_appimage_others_can_read(
    builds: dict[str, Build], tmp_path: Path, lock_dir: Path
) -> None:
    image = tmp_path / "cnt-alpha.AppImage"
    shutil.copy(builds["alpha"].appimage, image)
    rt_tmp = tmp_path / "rt"
    rt_tmp.mkdir()
    env = clean_env(TMPDIR=str(rt_tmp), CRYPTIC_NET_LOCK_DIR=str(lock_dir))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [*NO_NET, str(image), "--appimage-extract-and-run", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)

    for mode in (0o755, 0o740, 0o704):
        image.chmod(mode)
        r = run("run")
        assert r.returncode == 11, r.stderr
        fix = f"the AppImage {image} carries its private key and others can read the file: chmod 700 {image}"
        assert f"cnt-alpha.AppImage: error: {fix}" in r.stderr.splitlines()
        r = run("check")
        assert r.returncode == 8
        assert f"FAIL  {fix}" in r.stdout
    image.chmod(0o700)
    r = run("check")
    assert r.returncode == 0, r.stdout
    assert "ok    host key" in r.stdout


def kept_on_host(appdir: Path, key: Path) -> None:
    """Turn a copy of alpha's AppDir into one whose key stays on the host, at KEY."""
    (appdir / "etc/nebula/host.key").unlink()
    env_file = appdir / "etc/cryptic-net/host.env"
    env_file.write_text(
        env_file.read_text().replace("CRYPTIC_NET_KEY='etc/nebula/host.key'", f"CRYPTIC_NET_KEY='{key}'")
    )
    conf = appdir / "etc/nebula/nebula.yml"
    conf.write_text(conf.read_text().replace("key: etc/nebula/host.key", f"key: {key}"))


def test_host_key_missing_unreadable_or_exposed(
    appdir: Path, builds: dict[str, Build], tmp_path: Path, lock_dir: Path
) -> None:
    keys = tmp_path / "var-lib"
    keys.mkdir()
    key = keys / "host.key"
    kept_on_host(appdir, key)
    fix = f"copy this host's key there, mode 0600 (install -m 0600 -o root HOST.key {key})"
    cases = [
        (lambda: None, f"host key {key} is missing: {fix}"),
        (key.mkdir, f"host key {key} is not a readable file: {fix}"),
    ]
    for make, message in cases:
        make()
        r = apprun(appdir, "run", lock_dir=lock_dir, prefix=NO_NET)
        assert r.returncode == 10, r.stderr
        assert r.stderr == f"AppRun: error: {message}\n"
        r = apprun(appdir, "check", lock_dir=lock_dir, prefix=NO_NET)
        assert r.returncode == 8
        assert f"FAIL  {message}" in r.stdout
        # One line about the key, not nebula's whole configuration.
        assert "FAIL  nebula configuration (nebula -test) fails: see the host key above" in r.stdout
        assert len(r.stdout.splitlines()) < 12
    key.rmdir()
    shutil.copy(builds["alpha"].appdir / "etc/nebula/host.key", key)
    key.chmod(0o644)
    r = apprun(appdir, "run", lock_dir=lock_dir, prefix=NO_NET)
    assert r.returncode == 10, r.stderr
    assert f"host key {key} is readable by others: chmod 600 {key}" in r.stderr
    key.chmod(0o600)
    r = apprun(appdir, "check", lock_dir=lock_dir, prefix=NO_NET)
    assert r.returncode == 0, r.stdout
    assert "ok    host key" in r.stdout


# --- the lock without flock (issue 11, 5) ----------------------------------------------------


def test_reused_pid_is_not_already_running(appdir: Path, lock_dir: Path, tmp_path: Path) -> None:
    # The lock's owner PID now belongs to an unrelated process (PIDs are reused): its start
    # time differs, so the lock is stale, not "already running".
    other = subprocess.Popen(["sleep", "60"])
    try:
        lock_d = lock_dir / "example-alpha.lock.d"
        lock_d.mkdir()
        real = int(proc_start(other.pid))
        (lock_d / "owner").write_text(f"{other.pid} {real - 1}\n")
        r = apprun(appdir, "check", lock_dir=lock_dir, prefix=no_flock(tmp_path))
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"removing stale lock {lock_d} (PID {other.pid} is gone)" in r.stdout
        assert not lock_d.exists()
    finally:
        other.kill()
        other.wait(5)


def test_only_one_of_many_starters_wins_a_stale_lock(appdir: Path, lock_dir: Path, tmp_path: Path) -> None:
    # bin/pmux replaced by a sleeper: what matters is who gets past the lock.
    (appdir / "bin/pmux").write_text("#!/bin/sh\nexec sleep 30\n")
    lock_d = lock_dir / "example-alpha.lock.d"
    lock_d.mkdir()
    (lock_d / "owner").write_text("999999999 1\n")  # a PID that does not exist: stale
    hide = no_flock(tmp_path)
    starters = [
        subprocess.Popen(
            [*hide, *NO_NET, str(appdir / "AppRun"), "run"],
            env=clean_env(CRYPTIC_NET_LOCK_DIR=str(lock_dir)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    try:
        deadline = time.monotonic() + 30
        refused = []
        while time.monotonic() < deadline and len(refused) < len(starters) - 1:
            refused = [p for p in starters if p.poll() is not None]
            time.sleep(0.1)
        running = [p for p in starters if p.poll() is None]
        assert len(running) == 1, [p.stderr.read() if p.stderr else "" for p in refused]
        for p in refused:
            assert p.returncode == 6, p.stderr.read() if p.stderr else ""
        # The winner's AppRun exec'd its "pmux" (same PID): that PID owns the lock.
        assert (lock_d / "owner").read_text().split()[0] == str(running[0].pid)
    finally:
        for p in starters:
            if p.poll() is None:
                p.kill()
            p.wait(10)


# --- without FUSE, without a shared temporary directory (issue 10, 4) ------------------------


def test_extracted_once_into_a_root_owned_directory(
    builds: dict[str, Build], tmp_path: Path, lock_dir: Path
) -> None:
    # docs/security.md and contrib/systemd/cryptic-net-extracted@.service: extract once, as
    # root, into a directory only root can write, and run AppRun from there. No FUSE, no
    # $TMPDIR, and AppRun's PID becomes pmux, so SIGTERM stops everything.
    opt = tmp_path / "opt-cryptic-net"
    opt.mkdir(mode=0o755)
    subprocess.run(
        [str(builds["alpha"].appimage), "--appimage-extract"],
        cwd=opt,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        check=True,
    )
    appdir = opt / "alpha"
    (opt / "squashfs-root").rename(appdir)
    assert (appdir / "etc/nebula/host.key").stat().st_mode & 0o077 == 0
    r = apprun(appdir, "check", lock_dir=lock_dir, prefix=NO_NET)
    assert r.returncode == 0, r.stdout
    proc = subprocess.Popen(
        [*NO_NET, str(appdir / "AppRun"), "run"],
        env=clean_env(CRYPTIC_NET_LOCK_DIR=str(lock_dir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def both() -> list[int] | None:
            kids = children(proc.pid)
            return kids if len(kids) >= 2 else None

        kids = netns.wait_until("nebula and dnsmasq under pmux", both, 20)
        assert sorted(comm(k) for k in kids) == ["dnsmasq", "nebula"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        for k in kids:
            assert not Path(f"/proc/{k}").exists() or comm(k) not in ("nebula", "dnsmasq")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_the_fuse_mount_is_for_root_alone(builds: dict[str, Build], shared_tmp: Path) -> None:
    # Mount mode: the runtime mounts the image without allow_other, so the kernel lets no
    # other user into the mount, even through a directory everyone can enter. (Shown with
    # the tests' classic runtime; ours mounts through libfuse 3 without allow_other too.)
    if not Path("/dev/fuse").exists():
        pytest.skip("no /dev/fuse here: mount mode cannot run (the extract-and-run tests do)")
    proc = subprocess.Popen(
        [str(builds["alpha"].appimage), "--appimage-mount"],
        env=clean_env(TMPDIR=str(shared_tmp)),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        mountpoint = Path(proc.stdout.readline().strip())
        assert mountpoint.parent == shared_tmp
        assert (mountpoint / "etc/nebula/host.key").is_file()  # root: yes
        for argv in (["ls", str(mountpoint)], ["cat", str(mountpoint / "etc/nebula/host.key")]):
            r = subprocess.run([*NOBODY, *argv], capture_output=True, text=True, check=False)
            assert r.returncode != 0
            assert "Permission denied" in r.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def test_baked_key_file_others_can_read(appdir: Path, lock_dir: Path) -> None:
    # An extracted AppDir whose key file lost its mode 0600 (copied with cp -r by a user...).
    key = appdir / "etc/nebula/host.key"
    key.chmod(0o644)
    r = apprun(appdir, "run", lock_dir=lock_dir, prefix=NO_NET)
    assert r.returncode == 11, r.stderr
    assert r.stderr == f"AppRun: error: the baked key {key} is readable by others: chmod 600 {key}\n"
    r = apprun(appdir, "check", lock_dir=lock_dir, prefix=NO_NET)
    assert r.returncode == 8
    assert f"FAIL  the baked key {key} is readable by others: chmod 600 {key}" in r.stdout


def test_lock_dir_others_can_write_is_refused(appdir: Path, shared_tmp: Path) -> None:
    # Another user could plant a symlink named like the lock file: root would create or append
    # to its target.
    locks = shared_tmp / "locks"
    locks.mkdir(mode=0o777)
    locks.chmod(0o777)
    r = apprun(appdir, "run", lock_dir=locks, prefix=NO_NET)
    assert r.returncode == 7, r.stderr
    why = f"{locks} is not owned by root or is writable by others"
    assert f"the lock directory {locks} is not safe: {why}" in r.stderr
    assert not list(locks.iterdir())


def test_loader_variables_are_dropped(appdir: Path) -> None:
    # /bin/sh itself starts with the caller's LD_PRELOAD (the loader complains once); every
    # host tool AppRun then runs (id, find, sed, ...) must start without it.
    r = apprun(appdir, "version", env={"LD_PRELOAD": "/nonexistent/cnt-evil.so"})
    assert r.returncode == 0, r.stderr
    assert (r.stdout + r.stderr).count("cnt-evil.so") <= 1, r.stdout + r.stderr
    assert "Dnsmasq version" in r.stdout
