"""The network's build, outside Nix: nix/build.sh is the file nix/description.nix and
nix/host.nix run (`describe` once, then `host` per host).

The inventory is copied from exactly the file list the Nix source filter uses
(nix/inventory-files.nix), so a file the glue reads but the filter leaves out fails here, offline.
Debian's nebula, nebula-cert and dnsmasq stand in for the static builds, and appimagetool is a
recording stub (tests/nix/test_nix_template.py packs a real AppImage with the same script).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli
from tests.nix.nixtools import REPO, instantiate_eval

pytestmark = pytest.mark.nix

# What Nix's stdenv exports in every build (1980-01-01), which `cryptic-net appdir` stamps.
NIX_SOURCE_DATE_EPOCH = 315532800
RUNTIME_BYTES = b"\x7fELF stand-in runtime\n"

RECORDING_APPIMAGETOOL = """\
#!{python}
import json, os, sys
args = sys.argv[1:]
runtime = args[args.index("--runtime-file") + 1]
with open(runtime, "rb") as f:
    runtime_bytes = f.read()
with open(os.environ["RECORD"], "w") as f:
    json.dump({{"args": args, "ARCH": os.environ.get("ARCH"), "cwd": os.getcwd()}}, f)
with open(args[-1], "wb") as f:
    f.write(runtime_bytes)
"""


def hosts() -> list[str]:
    """For parametrizing (runs at collection, so no nix here); test_discovery ties it to Nix."""
    return sorted(p.stem for p in (REPO / "hosts").glob("*.yml") if not p.name.startswith("."))


def inventory_copy(dest: Path, source: Path = REPO) -> Path:
    """Exactly the files nix/sources.nix gives the build, by nix/inventory-files.nix."""
    spec = instantiate_eval("import ./nix/inventory-files.nix", REPO)
    dest.mkdir(parents=True, exist_ok=True)
    for rel in spec["files"]:
        shutil.copy2(source / rel, dest / rel)
    for rel in spec["optionalFiles"]:
        if (source / rel).is_file():
            shutil.copy2(source / rel, dest / rel)
    for path in sorted(source.iterdir()):
        if path.is_file() and not path.is_symlink() and path.suffix.lstrip(".") in spec["rootExtensions"]:
            shutil.copy2(path, dest / path.name)
    hosts_dir = source / spec["hostsDir"]
    for path in sorted(hosts_dir.rglob("*")):
        if path.is_file() and path.suffix.lstrip(".") in spec["hostExtensions"]:
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return dest


def tool(name: str) -> Path:
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        pytest.fail(f"{name} not found (Debian packages nebula and dnsmasq-base; tests/run installs them)")
    return Path(found)


def bin_dir(dest: Path) -> Path:
    dest.mkdir()
    for name in ("nebula", "nebula-cert", "dnsmasq"):
        shutil.copy2(tool(name), dest / name)
    pmux = os.environ.get("CRYPTIC_NET_PMUX")
    if pmux:
        shutil.copy2(pmux, dest / "pmux")
    else:
        # appdir only copies pmux; nothing here runs it.
        (dest / "pmux").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        (dest / "pmux").chmod(0o755)
    return dest


def tools_dir(dest: Path) -> Path:
    """cryptic-net (this interpreter's glue) and the recording appimagetool, first on PATH."""
    dest.mkdir()
    glue = dest / "cryptic-net"
    glue.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cryptic_net "$@"\n', encoding="utf-8")
    tool_stub = dest / "appimagetool"
    tool_stub.write_text(RECORDING_APPIMAGETOOL.format(python=sys.executable), encoding="utf-8")
    for path in (glue, tool_stub):
        path.chmod(0o755)
    return dest


def recipe(args: list[str], cwd: Path, tools: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """nix/build.sh as the Nix build runs it: the glue first on PATH, Nix's SOURCE_DATE_EPOCH."""
    env = {
        **os.environ,
        "PATH": f"{tools}:{os.environ.get('PATH', '')}",
        "SOURCE_DATE_EPOCH": str(NIX_SOURCE_DATE_EPOCH),
        **extra,
    }
    env.pop("ARCH", None)
    return subprocess.run(
        ["sh", str(REPO / "nix" / "build.sh"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def describe(tmp: Path, root: Path, tools: Path) -> Path:
    """The network's derivation (nix/description.nix): `build.sh describe`, in its own directory."""
    work = tmp / "describe"
    work.mkdir(parents=True)
    out = tmp / "description" / "network.json"
    proc = recipe(["describe", str(root), str(out)], work, tools)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def build(tmp: Path, host: str, root: Path | None = None) -> tuple[Path, dict, Path]:
    tmp.mkdir(parents=True)
    root = root or inventory_copy(tmp / "src")
    bins = bin_dir(tmp / "static-bin")
    tools = tools_dir(tmp / "tools")
    description = describe(tmp, root, tools)
    runtime = tmp / "runtime"
    runtime.write_bytes(RUNTIME_BYTES)
    work = tmp / "work"
    work.mkdir()
    out = tmp / "out" / "bin" / f"cryptic-net-{host}"
    record = tmp / "record.json"
    args = ["host", host, str(root), str(description), str(bins), str(runtime), str(out)]
    # Rendering from the description reads no certificate with nebula-cert: one that fails
    # comes first on PATH for this step.
    poison = tmp / "poison"
    poison.mkdir()
    (poison / "nebula-cert").write_text(
        "#!/bin/sh\necho nebula-cert was run >&2\nexit 99\n", encoding="utf-8"
    )
    (poison / "nebula-cert").chmod(0o755)
    proc = recipe(
        args, work, tools, RECORD=str(record), PATH=f"{poison}:{tools}:{os.environ.get('PATH', '')}"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_bytes() == RUNTIME_BYTES
    return work / "AppDir", json.loads(record.read_text(encoding="utf-8")), bins


def tree(root: Path) -> dict[str, tuple[str, int, int, bytes]]:
    result = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        kind = "d" if path.is_dir() else "l" if path.is_symlink() else "f"
        data = path.read_bytes() if kind == "f" else b""
        result[path.relative_to(root).as_posix()] = (kind, stat.S_IMODE(st.st_mode), int(st.st_mtime), data)
    return result


def test_discovery() -> None:
    names = instantiate_eval(
        "builtins.attrNames (import ./nix/hosts.nix { dir = ./hosts; buildHost = h: h; })", REPO
    )
    assert [n.removeprefix("host-") for n in names] == hosts()
    assert {"lighthouse", "alpha", "beta"} <= set(hosts())


def test_nix_runs_this_script() -> None:
    text = (REPO / "nix" / "host.nix").read_text(encoding="utf-8")
    assert "sh ${./build.sh} host " in text
    assert "${description}/network.json" in text
    assert '"$out/bin/cryptic-net-${host}"' in text
    text = (REPO / "nix" / "description.nix").read_text(encoding="utf-8")
    assert 'sh ${./build.sh} describe . "$out/network.json"' in text


@pytest.mark.parametrize("host", hosts())
def test_build_host(tmp_path: Path, host: str) -> None:
    appdir, record, bins = build(tmp_path / "b", host)

    # appimagetool gets exactly: the static runtime, the AppDir, the output; ARCH set.
    assert record["ARCH"] == "x86_64"
    assert record["args"] == [
        "--runtime-file",
        str(tmp_path / "b" / "runtime"),
        "AppDir",
        str(tmp_path / "b" / "out" / "bin" / f"cryptic-net-{host}"),
    ]

    files = tree(appdir)
    for name in ("AppRun", "cryptic-net.desktop", "cryptic-net.png"):
        assert files[name][0] == "f"
    for name in ("nebula", "nebula-cert", "dnsmasq", "pmux"):
        kind, mode, _, data = files[f"bin/{name}"]
        assert (kind, mode) == ("f", 0o755)
        assert data == (bins / name).read_bytes()
    for rel in (
        "etc/nebula/nebula.yml",
        "etc/nebula/ca.crt",
        "etc/nebula/host.crt",
        "etc/dnsmasq/dnsmasq.conf",
        "etc/dnsmasq/hosts",
        "etc/pmux.yml",
        "etc/cryptic-net/host.env",
    ):
        assert files[rel][0] == "f", rel
    # Every time stamp is Nix's SOURCE_DATE_EPOCH: mksquashfs then has nothing else to record.
    assert {mtime for _, _, mtime, _ in files.values()} == {NIX_SOURCE_DATE_EPOCH}
    env_text = files["etc/cryptic-net/host.env"][3].decode()
    assert f"CRYPTIC_NET_HOST='{host}'" in env_text


@pytest.mark.parametrize("host", hosts())
def test_appdir_etc_is_what_render_writes(tmp_path: Path, host: str) -> None:
    appdir, _, _ = build(tmp_path / "b", host)
    rendered = tmp_path / "rendered"
    proc = cli("render", host, "--root", tmp_path / "b" / "src", "--out", rendered)
    assert proc.returncode == 0, proc.stderr
    ours = {k: v[3] for k, v in tree(appdir / "etc").items() if v[0] == "f"}
    theirs = {k: v[3] for k, v in tree(rendered / "etc").items() if v[0] == "f"}
    assert ours == theirs


def test_same_inputs_same_appdir_wherever_built(tmp_path: Path) -> None:
    """Two builds from two copies of the inventory in different directories: same tree."""
    first, _, _ = build(tmp_path / "one", "alpha")
    second, _, _ = build(tmp_path / "two" / "deeper", "alpha")
    assert tree(first) == tree(second)


def test_appdir_mentions_no_build_path(tmp_path: Path) -> None:
    appdir, _, _ = build(tmp_path / "b", "beta")
    for rel, (kind, _, _, data) in tree(appdir).items():
        if kind == "f" and not rel.startswith("bin/"):
            assert str(tmp_path).encode() not in data, rel


def test_host_reads_only_its_own_files(tmp_path: Path) -> None:
    """After `describe`, a host renders with every other host's certificate and key gone."""
    tmp = tmp_path / "b"
    tmp.mkdir()
    root = inventory_copy(tmp / "src")
    tools = tools_dir(tmp / "tools")
    description = describe(tmp, root, tools)
    for path in (root / "hosts").iterdir():
        if path.suffix in {".crt", ".key", ".yml"} and path.stem != "beta":
            path.unlink()
    appdir = tmp / "AppDir"
    proc = cli(
        "appdir",
        "beta",
        "--root",
        root,
        "--description",
        description,
        "--bin-dir",
        bin_dir(tmp / "bin"),
        "--out",
        appdir,
    )
    assert proc.returncode == 0, proc.stderr
    hosts = (appdir / "etc" / "dnsmasq" / "hosts").read_text(encoding="utf-8")
    # Every host's DNS record is still there: it came from the description.
    for name in ("lighthouse", "alpha", "beta"):
        assert f" {name}.example.internal" in hosts


def test_a_changed_certificate_is_refused(tmp_path: Path) -> None:
    """A description never renders with files other than those it validated."""
    tmp = tmp_path / "b"
    tmp.mkdir()
    root = inventory_copy(tmp / "src")
    tools = tools_dir(tmp / "tools")
    description = describe(tmp, root, tools)
    shutil.copy2(root / "hosts" / "alpha.crt", root / "hosts" / "beta.crt")
    out = tmp / "AppDir"
    proc = cli(
        "appdir",
        "beta",
        "--root",
        root,
        "--description",
        description,
        "--bin-dir",
        bin_dir(tmp / "bin"),
        "--out",
        out,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"cryptic-net: error: {description}: hosts/beta.crt: differs from the file that was validated "
        "(run `cryptic-net describe` again on this inventory)\n"
    )
    assert not out.exists()


def test_description_mentions_no_build_path(tmp_path: Path) -> None:
    tmp = tmp_path / "b"
    tmp.mkdir()
    root = inventory_copy(tmp / "src")
    description = describe(tmp, root, tools_dir(tmp / "tools"))
    text = description.read_text(encoding="utf-8")
    assert str(tmp_path) not in text
    assert json.loads(text)["network"]["cas"][0]["path"] == "ca.crt"


def test_secret_scan_covers_the_source_set(tmp_path: Path) -> None:
    """Every root-level *.crt enters the build (nix/inventory-files.nix): the CA-key scan reads it."""
    root = inventory_copy(tmp_path / "src")
    # Split, so that no tracked file holds a CA key banner (secret scanners, the before-stop hook).
    kind = "NEBULA " + "ED25519 PRIVATE KEY"
    banner = f"-----BEGIN {kind}-----\nAAAA\n-----END {kind}-----\n"
    (root / "stray.crt").write_text(banner, encoding="utf-8")
    proc = cli("validate", "--root", root)
    assert proc.returncode == 2
    assert "stray.crt:1:1: $: a nebula CA private key must not be in" in proc.stderr


def test_the_build_holds_the_policy_tests(tmp_path: Path) -> None:
    """policy.yml is in the source set: a rule change the policy forbids fails the Nix build."""
    tmp = tmp_path / "b"
    tmp.mkdir()
    root = inventory_copy(tmp / "src")
    assert (root / "policy.yml").read_bytes() == (REPO / "policy.yml").read_bytes()
    alpha = root / "hosts" / "alpha.yml"
    alpha.write_text(
        alpha.read_text(encoding="utf-8") + "    - {port: 22, proto: tcp, host: any}\n", encoding="utf-8"
    )
    work = tmp / "describe"
    work.mkdir()
    out = tmp / "description" / "network.json"
    proc = recipe(["describe", str(root), str(out)], work, tools_dir(tmp / "tools"))
    assert proc.returncode == 2
    assert "policy.yml:" in proc.stderr
    assert "beta -> alpha tcp/22 is allowed" in proc.stderr
    assert not out.exists()
