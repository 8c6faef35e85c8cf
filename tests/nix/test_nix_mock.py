"""The mock nixpkgs refuses what current nixpkgs refuses, so that a regression fails offline.

Each refusal is one that nixpkgs makes at evaluation time (tests/nix/mock/README.md says which
source file it was read from); a Nix file of this repository that trips one fails here and in
test_nix_flake_eval.py instead of on a networked builder.
"""

from __future__ import annotations

import re

import pytest

from tests.nix.nixtools import REPO, STORE, need, repo_files, run

pytestmark = pytest.mark.nix

PKGS = (
    '(import ./tests/nix/mock/pkgs.nix { lib = import ./tests/nix/mock/lib.nix; system = "x86_64-linux"; })'
)


def evaluate(expr: str) -> tuple[int, str, str]:
    proc = run(
        [need("nix-instantiate"), "--store", STORE, "--eval", "--strict", "--json", "--expr", expr], cwd=REPO
    )
    return proc.returncode, proc.stdout.strip(), proc.stderr


def drv(attrs: str, pkgs: str = PKGS) -> str:
    return f'({pkgs}.stdenv.mkDerivation {{ pname = "x"; version = "1"; {attrs} }}).name'


@pytest.mark.parametrize("flags", ['hardeningDisable = [ "pie" ];', 'hardeningEnable = [ "pie" ];'])
def test_unknown_hardening_flag_is_refused(flags: str) -> None:
    code, _, err = evaluate(drv(flags))
    assert code != 0
    assert "mkDerivation was called with unsupported hardening flags: pie" in err


@pytest.mark.parametrize(
    "flags", ["", 'hardeningDisable = [ "all" ];', 'hardeningDisable = [ "pic" "fortify" ];']
)
def test_known_hardening_flags_pass(flags: str) -> None:
    assert evaluate(drv(flags))[:2] == (0, '"x-1"')


def test_static_marker_is_added_once() -> None:
    # As nixpkgs' stdenvStaticMarker: which is why pkgs/dnsmasq keeps nixpkgs' pname.
    assert evaluate(drv("", f"{PKGS}.pkgsStatic"))[:2] == (0, '"x-static-1"')


def test_squashfuse_argument_is_fuse() -> None:
    code, out, err = evaluate(f"{PKGS}.lib.functionArgs {PKGS}.squashfuse.override")
    assert (code, out) == (0, '{"fuse":true}'), err
    code, _, err = evaluate(f"({PKGS}.squashfuse.override {{ fuse3 = null; }}).name")
    assert code != 0
    assert "unexpected argument 'fuse3'" in err
    assert evaluate(f"({PKGS}.squashfuse.override {{ fuse = null; }}).name")[:2] == (0, '"squashfuse-0.6.3"')


HARDENING = re.compile(r"hardening(Disable|Enable)\s*=[^;]*\"pie\"", re.DOTALL)


@pytest.mark.parametrize(
    "path", repo_files(".nix", include_tests=False), ids=lambda p: p.relative_to(REPO).as_posix()
)
def test_no_pie_flag_anywhere(path) -> None:
    """Also in code the flake evaluation does not reach (comments aside)."""
    text = path.read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not HARDENING.search(code)
