"""A network of one's own, from the template, as a new user makes it (issue 7's done-when).

`nix flake init -t` copies templates/default into an empty directory (done here by copying the
path the flake exports: Nix cannot fetch this flake's inputs offline); `cryptic-net init` and
`new-host` write the inventory there; its flake, evaluated against the mock nixpkgs with this
repository as its `cryptic-net` input, has one `host-NAME` per host file; and nix/build.sh, the
recipe the Nix build runs, makes a working AppImage there with the test appimagetool (the
classic AppImageKit tool from PyPI, tests/integration/appimagetool.py) and that tool's own
runtime.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.nix.nixtools import REPO, STORE, need, run
from tests.nix.test_nix_build_host import NIX_SOURCE_DATE_EPOCH, bin_dir, tools_dir

sys.path.insert(0, str(REPO / "tests" / "integration"))
import appimagetool

pytestmark = [pytest.mark.nix, pytest.mark.integration]

HOSTS = ("lh", "laptop")

# build.sh calls `appimagetool --runtime-file RUNTIME AppDir OUT`, as with the Nix package.
# This appimagetool passes -mkfs-time itself, which Debian's mksquashfs refuses together with
# SOURCE_DATE_EPOCH: the epoch goes in as -all-time instead (as tests/integration does).
APPIMAGETOOL = """#!/bin/sh
epoch=${{SOURCE_DATE_EPOCH:-1}}
unset SOURCE_DATE_EPOCH
PATH="{mksquashfs_dir}:$PATH" exec "{tool}" --no-appstream \\
    --mksquashfs-opt -all-time --mksquashfs-opt "$epoch" "$@"
"""


def glue(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "cryptic_net", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def evaluate(network: Path) -> dict[str, Any]:
    expr = f"import ./tests/nix/mock/eval.nix {{ repo = ./.; network = {network}; }}"
    proc = run(
        [need("nix-instantiate"), "--store", STORE, "--eval", "--strict", "--json", "--expr", expr], REPO
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def template_path() -> Path:
    expr = "import ./tests/nix/mock/eval.nix { repo = ./.; }"
    proc = run(
        [need("nix-instantiate"), "--store", STORE, "--eval", "--strict", "--json", "--expr", expr], REPO
    )
    assert proc.returncode == 0, proc.stderr
    return Path(json.loads(proc.stdout)["templates"]["default"]["path"])


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("template")
    net = tmp / "my-network"
    # What `nix flake init -t` does: copy the template's files into the (empty) directory.
    shutil.copytree(template_path(), net)
    ca = tmp / "ca"
    glue("init", "--name", "home", "--cidr", "10.77.0.0/24", "--ca-dir", ca, cwd=net)
    signing = ("--ca-crt", "ca.crt", "--ca-key", ca / "ca.key")
    glue("new-host", "lh", "--lighthouse", "192.0.2.1:4242", "--relay", "--bake-key", *signing, cwd=net)
    glue("new-host", "laptop", "--groups", "admin", "--key-out", tmp / "laptop.key", *signing, cwd=net)
    return net


def test_template_is_a_flake_on_this_library() -> None:
    path = template_path()
    assert sorted(p.name for p in path.iterdir()) == [".gitignore", "flake.nix"]
    text = (path / "flake.nix").read_text(encoding="utf-8")
    assert "cryptic-net.lib.mkNetwork { root = ./.; }" in text
    assert "inputs.cryptic-net.url" in text


def test_empty_template_evaluates_without_hosts(tmp_path: Path) -> None:
    net = tmp_path / "fresh"
    shutil.copytree(template_path(), net)
    expr = (
        f"let o = import ./tests/nix/mock/eval.nix {{ repo = ./.; network = {net}; }}; in"
        " { inherit (o) apps; packages = o.packages; }"
    )
    proc = run(
        [need("nix-instantiate"), "--store", STORE, "--eval", "--strict", "--json", "--expr", expr], REPO
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    # No hosts yet, and the glue is there to make some (`nix run .#cryptic-net -- init`).
    assert got["packages"] == {"x86_64-linux": {}, "aarch64-linux": {}}
    assert got["apps"]["x86_64-linux"]["cryptic-net"]["program"].endswith("/bin/cryptic-net")


def test_one_package_per_host_file(network: Path) -> None:
    got = evaluate(network)
    assert set(got["packages"]["x86_64-linux"]) == {f"host-{h}" for h in HOSTS}
    # No appimagetool for aarch64, hence no AppImage there.
    assert got["packages"]["aarch64-linux"] == {}
    assert set(got["checks"]["x86_64-linux"]) == {f"host-{h}" for h in HOSTS} | {"validate", "configs"}
    assert set(got["checks"]["aarch64-linux"]) == {"validate", "configs"}
    assert set(got["outputNames"]) == {"packages", "checks", "apps", "devShells"}
    for host in HOSTS:
        drv = got["packages"]["x86_64-linux"][f"host-{host}"]
        assert drv["meta"]["mainProgram"] == f"cryptic-net-{host}"
        assert f"-build.sh host '{host}' . " in drv["attrs"]["buildPhase"]


def runtime_file(dest: Path) -> Path:
    """The classic type-2 runtime at the head of the test tool's own AppImage (linuxdeploy)."""
    cache = appimagetool.cache_dir()
    appimagetool.appimagetool(cache)
    with zipfile.ZipFile(appimagetool._wheel(cache)) as zf:  # noqa: SLF001 (the pinned wheel)
        data = zf.read(appimagetool.LINUXDEPLOY)
    image = dest / "linuxdeploy.AppImage"
    image.write_bytes(data)
    image.chmod(0o755)
    proc = subprocess.run(
        [str(image), "--appimage-offset"], capture_output=True, text=True, timeout=60, check=True
    )
    runtime = dest / "runtime"
    runtime.write_bytes(data[: int(proc.stdout.strip())])
    return runtime


def test_recipe_makes_a_working_appimage(network: Path, tmp_path: Path) -> None:
    tools = tools_dir(tmp_path / "tools")
    mksquashfs = shutil.which("mksquashfs")
    assert mksquashfs, "mksquashfs not found (Debian: squashfs-tools; tests/run installs it)"
    wrapper = tools / "appimagetool"
    wrapper.write_text(
        APPIMAGETOOL.format(mksquashfs_dir=Path(mksquashfs).parent, tool=appimagetool.appimagetool()),
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    runtime = runtime_file(tmp_path)
    bins = bin_dir(tmp_path / "static-bin")
    env = {
        **os.environ,
        "PATH": f"{tools}:{os.environ['PATH']}",
        "SOURCE_DATE_EPOCH": str(NIX_SOURCE_DATE_EPOCH),
    }

    def recipe(*args: str | Path, cwd: Path) -> None:
        proc = subprocess.run(
            ["sh", str(REPO / "nix" / "build.sh"), *map(str, args)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr

    (tmp_path / "describe").mkdir()
    description = tmp_path / "description" / "network.json"
    recipe("describe", network, description, cwd=tmp_path / "describe")
    work = tmp_path / "work-laptop"
    work.mkdir()
    image = tmp_path / "out" / "bin" / "cryptic-net-laptop"
    recipe("host", "laptop", network, description, bins, runtime, image, cwd=work)

    # It runs: without FUSE (extract-and-run), AppRun reports the baked host.
    extract = tmp_path / "extract"
    extract.mkdir()
    proc = subprocess.run(
        [str(image), "--appimage-extract-and-run", "version"],
        env={**os.environ, "TMPDIR": str(extract)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("cryptic-net ")
    assert "(network home, host laptop, overlay 10.77.0.2/24)" in proc.stdout.splitlines()[0]
    # Its configuration is what `render` makes of the inventory, validated in full.
    rendered = tmp_path / "rendered"
    glue("render", "laptop", "--root", network, "--out", rendered, cwd=tmp_path)
    config = subprocess.run(
        [str(image), "--appimage-extract-and-run", "config"],
        env={**os.environ, "TMPDIR": str(extract)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert config.returncode == 0, config.stderr
    nebula = (rendered / "etc" / "nebula" / "nebula.yml").read_text(encoding="utf-8")
    assert nebula in config.stdout
