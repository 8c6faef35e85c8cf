"""The whole flake, evaluated offline against a mock nixpkgs (tests/nix/mock/README.md).

This checks the wiring between our own Nix files: every output exists on the right system,
every callPackage gets its arguments, the source filter names only files that exist, the
per-host builder runs the script the offline build test runs, the repairs to nix-bundle's
appimagetool are in place, and the VM test script is valid Python. Whether nixpkgs 26.05 has
every attribute used is for `nix flake check` on a networked builder.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from typing import Any

import pytest

from tests.nix.nixtools import REPO, STORE, need, run

pytestmark = pytest.mark.nix

HOSTS = {"host-lighthouse", "host-alpha", "host-beta"}
STATIC_PARTS = {"nebula", "dnsmasq", "pmux", "appimage-runtime", "cryptic-net"}


@pytest.fixture(scope="module")
def flake() -> dict[str, Any]:
    # `--eval` is read-only: paths such as nix/build-host.sh get their store path computed,
    # not copied, so this works with the dummy store too.
    proc = run(
        [
            need("nix-instantiate"),
            "--store",
            STORE,
            "--eval",
            "--strict",
            "--json",
            "--expr",
            "import ./tests/nix/mock/eval.nix { repo = ./.; }",
        ],
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_packages_per_system(flake: dict[str, Any]) -> None:
    x86 = flake["packages"]["x86_64-linux"]
    assert set(x86) == STATIC_PARTS | {"appimagetool", "default"} | HOSTS
    assert x86["default"] == x86["host-alpha"]
    # No appimagetool for aarch64, hence no AppImages there; everything else is.
    assert set(flake["packages"]["aarch64-linux"]) == STATIC_PARTS


def test_checks_per_system(flake: dict[str, Any]) -> None:
    common = {"pytest", "validate", "configs", "formatting"}
    # static-aarch64, deterministic-aarch64: beta built as an aarch64 host (nix/checks/multiarch.nix).
    x86_only = {"static", "deterministic", "vm", "static-aarch64", "deterministic-aarch64"}
    assert set(flake["checks"]["x86_64-linux"]) == common | x86_only | HOSTS
    assert set(flake["checks"]["aarch64-linux"]) == common


def test_apps_devshell_formatter(flake: dict[str, Any]) -> None:
    for system in ("x86_64-linux", "aarch64-linux"):
        apps = flake["apps"][system]
        assert apps["default"] == apps["cryptic-net"]
        assert apps["default"]["type"] == "app"
        assert apps["default"]["program"].endswith(f"-cryptic-net-{pyproject_version()}/bin/cryptic-net")
        assert "default" in flake["devShells"][system]
        # nixpkgs 26.05: `nixfmt` is the RFC 166 formatter; `nixfmt-rfc-style` only warns.
        assert flake["formatter"][system] == "nixfmt-tree"


def pyproject_version() -> str:
    """The version: pyproject.toml says where it is defined (setuptools `attr:`)."""
    with (REPO / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "cryptic_net.__version__"}
    found = re.findall(
        r'^__version__ = "([^"]+)"$',
        (REPO / "scripts" / "cryptic_net" / "__init__.py").read_text(),
        re.MULTILINE,
    )
    assert len(found) == 1
    return found[0]


def test_glue_version_from_pyproject(flake: dict[str, Any]) -> None:
    glue = flake["packages"]["x86_64-linux"]["cryptic-net"]
    assert glue["name"] == f"cryptic-net-{pyproject_version()}"
    assert glue["attrs"]["pyproject"] is True


def test_host_builder(flake: dict[str, Any]) -> None:
    for host in HOSTS:
        name = host.removeprefix("host-")
        drv = flake["packages"]["x86_64-linux"][host]
        assert drv["meta"]["mainProgram"] == f"cryptic-net-{name}"
        assert drv["attrs"]["allowedReferences"] == []
        assert drv["attrs"]["dontFixup"] is True
        script = drv["attrs"]["buildPhase"]
        assert f"-build.sh host '{name}' . " in script
        assert f'"$out/bin/cryptic-net-{name}"' in script
        # Rendered from the network's one description, validated once.
        description = flake["checks"]["x86_64-linux"]["validate"]
        assert f"{description['path']}/network.json" in script
        # The static binaries go into the bundle; no nebula-cert runs in a host's build.
        for part in ("nebula", "dnsmasq", "pmux", "appimage-runtime"):
            assert flake["packages"]["x86_64-linux"][part]["path"] in script
        assert flake["packages"]["x86_64-linux"]["nebula"]["path"] not in drv["attrs"]["nativeBuildInputs"]


def test_description_is_the_validate_check(flake: dict[str, Any]) -> None:
    for system in ("x86_64-linux", "aarch64-linux"):
        drv = flake["checks"][system]["validate"]
        assert drv["name"] == f"cryptic-net-description-{pyproject_version()}"
        assert '-build.sh describe . "$out/network.json"' in drv["attrs"]["buildPhase"]
        # Certificates are read in-process: no nebula-cert needed to validate.
        assert flake["packages"][system]["nebula"]["path"] not in drv["attrs"]["nativeBuildInputs"]
        assert drv["attrs"]["allowedReferences"] == []


def test_library_and_template(flake: dict[str, Any]) -> None:
    assert flake["lib"] == ["mkNetwork"]
    template = flake["templates"]["default"]
    assert template["path"] == str(REPO / "templates" / "default")
    assert "cryptic-net init" in template["welcomeText"]


def test_static_parts(flake: dict[str, Any]) -> None:
    pkgs = flake["packages"]["x86_64-linux"]
    nebula = pkgs["nebula"]["attrs"]
    assert nebula["env"]["CGO_ENABLED"] == 0
    assert nebula["tags"] == []
    # nixpkgs removed the `pie` hardening flag; -buildmode=exe keeps Go from making a PIE.
    assert "pie" not in nebula.get("hardeningDisable", [])
    assert "-buildmode=exe" in nebula["preBuild"]
    pmux = pkgs["pmux"]["attrs"]
    assert pmux["env"]["CGO_ENABLED"] == 0
    assert "pie" not in pmux.get("hardeningDisable", [])
    assert "-buildmode=exe" in pmux["preBuild"]
    # C code is built with pkgsStatic; dnsmasq without any optional library. pkgsStatic
    # itself adds "-static" to the name, once.
    assert pkgs["dnsmasq"]["isStatic"] is True
    assert pkgs["dnsmasq"]["name"] == "dnsmasq-static-2.92"
    assert pkgs["dnsmasq"]["attrs"]["buildInputs"] == []
    assert pkgs["dnsmasq"]["attrs"]["preBuild"] == ""
    assert pkgs["appimage-runtime"]["isStatic"] is True


def test_appimagetool_repairs(flake: dict[str, Any]) -> None:
    tool = flake["packages"]["x86_64-linux"]["appimagetool"]
    install = tool["attrs"]["installPhase"]
    # nix-bundle's own phase ran (stdenv.glibc resolved through our shim), then ours.
    assert "-glibc" in install
    assert 'rm -f "$out/bin/mksquashfs"' in install
    assert (
        "--subst-var-by mksquashfs /nix/store/00000000000000000000000000000000-squashfsTools/bin/mksquashfs"
        in install
    )
    assert '--subst-var-by appimagetool "$out/bin/.appimagetool-wrapped"' in install
    assert install.index("patchelf") < install.index("rm -f")
    assert tool["meta"]["platforms"] == ["x86_64-linux"]


def test_deterministic_builds_two_distinct_derivations(flake: dict[str, Any]) -> None:
    script = flake["checks"]["x86_64-linux"]["deterministic"]["attrs"]["buildCommand"]
    assert 'cmp "$a" "$b"' in script


def test_vm_test_script_is_valid_python(flake: dict[str, Any]) -> None:
    script = flake["checks"]["x86_64-linux"]["vm"]["attrs"]["testScript"]
    tree = ast.parse(script)
    # The NixOS test driver lints its script: an f-string without a placeholder fails it.
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            assert any(isinstance(v, ast.FormattedValue) for v in node.values), ast.unparse(node)
    for needle in ("10.42.0.1", "192.0.2.1", "example.internal", "cn-example", "KillMode=process"):
        assert needle in script


def test_pytest_check_selects_like_tests_run(flake: dict[str, Any]) -> None:
    script = flake["checks"]["x86_64-linux"]["pytest"]["attrs"]["buildCommand"]
    assert '-m "not root and not nix and not integration"' in script
    for system in ("x86_64-linux", "aarch64-linux"):
        attrs = flake["checks"][system]["configs"]["attrs"]
        for host in ("lighthouse", "alpha", "beta"):
            assert f"'{host}'" in attrs["buildCommand"] or f" {host}" in attrs["buildCommand"]
        assert "nebula -test -config etc/nebula/nebula.yml" in attrs["buildCommand"]
        description = flake["checks"][system]["validate"]["path"]
        assert f"--description {description}/network.json" in attrs["buildCommand"]
        assert "dnsmasq --test --conf-file=etc/dnsmasq/dnsmasq.conf" in attrs["buildCommand"]
