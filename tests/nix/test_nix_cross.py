"""A host's architecture picks its build (issue 13): nix/arch.nix and nix/cross.nix, offline.

nix/arch.nix reads `arch:` from a host file with builtins only; nix/cross.nix gives the
programs and the runtime of an architecture from a builder's nixpkgs. Both are evaluated here
against the mock nixpkgs (tests/nix/mock), from an x86_64 and from an aarch64 builder: which
package set builds each part (the builder's own, or pkgsCross.<name>, static or not) is what
can go wrong in this repository. Whether nixpkgs then cross-builds them is for a networked
builder to show.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from tests.nix.nixtools import REPO, STORE, instantiate_eval, need, nix_env

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.nix

ARCH = "import ./nix/arch.nix"


def host_arch(tmp_path: Path, text: str) -> Any:
    f = tmp_path / "host.yml"
    f.write_text(text)
    return instantiate_eval(f"({ARCH}).ofHostFile {f}", REPO)


def eval_error(expr: str) -> str:
    """stderr of an evaluation that must fail."""
    argv = [need("nix-instantiate"), "--store", STORE, "--eval", "--strict", "--json", "--expr", expr]
    proc = subprocess.run(
        argv, cwd=REPO, env=nix_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def host_arch_error(tmp_path: Path, text: str) -> str:
    f = tmp_path / "host.yml"
    f.write_text(text)
    return eval_error(f"({ARCH}).ofHostFile {f}")


@pytest.mark.parametrize(
    ("text", "arch"),
    [
        ("ip: 10.42.0.3\n", "x86_64"),
        ("ip: 10.42.0.3\narch: aarch64\n", "aarch64"),
        ("arch: x86_64\nip: 10.42.0.3\n", "x86_64"),
        ("ip: 10.42.0.3\narch: 'aarch64'  # a Raspberry Pi\n", "aarch64"),
        ('ip: 10.42.0.3\narch: "aarch64"\r\n', "aarch64"),
        # Not top-level keys: a nested `arch` (indented) and a comment are not the host's.
        ("ip: 10.42.0.3\nfirewall:\n  arch: aarch64\n# arch: aarch64\n", "x86_64"),
    ],
)
def test_arch_is_read_from_the_host_file(tmp_path: Path, text: str, arch: str) -> None:
    assert host_arch(tmp_path, text) == arch


def test_unknown_arch_is_an_error_naming_the_file(tmp_path: Path) -> None:
    err = host_arch_error(tmp_path, "ip: 10.42.0.3\narch: riscv64\n")
    assert f"{tmp_path / 'host.yml'}: arch: 'riscv64' is not one of: aarch64 x86_64" in err


def test_arch_given_twice_is_an_error(tmp_path: Path) -> None:
    err = host_arch_error(tmp_path, "arch: aarch64\narch: x86_64\n")
    assert "`arch` is given 2 times" in err


def test_the_example_hosts_are_x86_64() -> None:
    arches = instantiate_eval(
        f"map ({ARCH}).ofHostFile [ ./hosts/lighthouse.yml ./hosts/alpha.yml ./hosts/beta.yml ]", REPO
    )
    assert arches == ["x86_64"] * 3


def parts(builder: str, arch: str) -> dict[str, Any]:
    """nix/cross.nix on the mock nixpkgs of `builder`: each part's set, system and staticness."""
    expr = f"""
      let
        lib = import ./tests/nix/mock/lib.nix;
        pkgs = import ./tests/nix/mock/pkgs.nix {{ inherit lib; system = "{builder}"; }};
        p = import ./nix/cross.nix {{ inherit pkgs; }} "{arch}";
        show = d: {{ inherit (d) name hostSystem isStatic; path = d.outPath; }};
      in {{
        inherit (p) arch system elfMachine;
        nebula = show p.nebula;
        pmux = show p.pmux;
        dnsmasq = show p.dnsmasq;
        runtime = show p.appimage-runtime;
        nebulaEnv = p.nebula.drvAttrs.env or {{ }};
      }}
    """
    result: dict[str, Any] = instantiate_eval(expr, REPO)
    return result


@pytest.mark.parametrize("builder", ["x86_64-linux", "aarch64-linux"])
@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_every_part_runs_on_the_hosts_architecture(builder: str, arch: str) -> None:
    p = parts(builder, arch)
    system = f"{arch}-linux"
    assert (p["arch"], p["system"]) == (arch, system)
    assert p["elfMachine"] == {"x86_64": 62, "aarch64": 183}[arch]
    for name in ("nebula", "pmux", "dnsmasq", "runtime"):
        assert p[name]["hostSystem"] == system, f"{name}: {p[name]}"
    # C programs static (musl), Go programs need no C and come from the plain set.
    assert p["dnsmasq"]["isStatic"]
    assert p["runtime"]["isStatic"]
    assert not p["nebula"]["isStatic"]
    assert not p["pmux"]["isStatic"]
    assert p["nebula"]["name"] == "nebula-static-1.10.3"
    assert p["nebulaEnv"] == {"CGO_ENABLED": 0}  # pkgs/nebula: withPkcs11 = false, so CGO off


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_a_host_of_the_builders_architecture_builds_natively(arch: str) -> None:
    p = parts(f"{arch}-linux", arch)
    for name in ("nebula", "pmux", "dnsmasq", "runtime"):
        # The mock marks cross builds in the store path; a native build has none.
        assert f"-{arch}-linux-" not in p[name]["path"], f"{name}: {p[name]['path']}"


def test_an_aarch64_host_from_an_x86_64_builder_is_cross_built() -> None:
    p = parts("x86_64-linux", "aarch64")
    for name in ("nebula", "pmux", "dnsmasq", "runtime"):
        assert "-aarch64-linux-" in p[name]["path"], f"{name}: {p[name]['path']}"


def test_unknown_arch_is_refused() -> None:
    expr = """
      let
        lib = import ./tests/nix/mock/lib.nix;
        pkgs = import ./tests/nix/mock/pkgs.nix { inherit lib; system = "x86_64-linux"; };
      in (import ./nix/cross.nix { inherit pkgs; } "riscv64").nebula.name
    """
    err = eval_error(expr)
    assert "cryptic-net: unknown arch 'riscv64' (known: aarch64 x86_64)" in err


# --- the flake: lib.mkNetwork builds each host for its arch ---------------------------------

SKIP_COPY = shutil.ignore_patterns(".git", ".venv", ".cache", "__pycache__", "*.egg-info", "result*")


def flake_with_aarch64_beta(tmp_path: Path) -> dict[str, Any]:
    """The flake's outputs on the mock nixpkgs, for a copy of this repository whose beta is aarch64."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo, ignore=SKIP_COPY, symlinks=True)
    beta = repo / "hosts" / "beta.yml"
    beta.write_text(beta.read_text() + "arch: aarch64\n")
    result: dict[str, Any] = instantiate_eval("import ./tests/nix/mock/eval.nix { repo = ./.; }", repo)
    return result


def test_each_host_is_built_for_its_arch(tmp_path: Path) -> None:
    flake = flake_with_aarch64_beta(tmp_path)
    x86 = flake["packages"]["x86_64-linux"]
    beta = x86["host-beta"]["attrs"]["buildPhase"]
    assert "CRYPTIC_NET_ARCH=aarch64 sh" in beta
    for program in ("nebula-static-1.10.3/bin/nebula", "dnsmasq-static-2.92/bin/dnsmasq"):
        assert f"-aarch64-linux-{program}" in beta, beta
    assert "-aarch64-linux-appimage-type2-runtime" in beta
    for host in ("alpha", "lighthouse"):
        phase = x86[f"host-{host}"]["attrs"]["buildPhase"]
        assert "CRYPTIC_NET_ARCH=x86_64 sh" in phase
        assert "-aarch64-linux-" not in phase
    # The `static` check gives each image its host's architecture.
    static = flake["checks"]["x86_64-linux"]["static"]["attrs"]["buildCommand"]
    for host, arch in (("beta", "aarch64"), ("alpha", "x86_64"), ("lighthouse", "x86_64")):
        image = f"{x86[f'host-{host}']['path']}/bin/cryptic-net-{host}"
        assert re.search(rf"--arch {arch} \\\s+{re.escape(image)} ", static), static


def test_the_example_checks_cover_an_aarch64_image() -> None:
    flake = instantiate_eval("import ./tests/nix/mock/eval.nix { repo = ./.; }", REPO)
    checks = flake["checks"]["x86_64-linux"]
    static = checks["static-aarch64"]["attrs"]["buildCommand"]
    assert "static.sh --store-dir /nix/store --arch aarch64 /nix/store/" in static
    deterministic = checks["deterministic-aarch64"]["attrs"]["buildCommand"]
    # (The mock cannot tell the two builds apart: its store paths come from names only.)
    assert deterministic.count("/bin/cryptic-net-beta\n") == 2, deterministic
    assert 'cmp "$a" "$b"' in deterministic
    assert "static-aarch64" not in flake["checks"]["aarch64-linux"]
