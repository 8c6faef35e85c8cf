"""Every .nix file in the repository parses (and uses no undefined variable)."""

from __future__ import annotations

import pytest

from tests.nix.nixtools import REPO, STORE, need, repo_files, run

pytestmark = pytest.mark.nix


def nix_files() -> list[str]:
    return [p.relative_to(REPO).as_posix() for p in repo_files(".nix")]


def test_there_are_nix_files() -> None:
    files = nix_files()
    for expected in (
        "flake.nix",
        "nix/hosts.nix",
        "nix/host.nix",
        "nix/mk-network.nix",
        "templates/default/flake.nix",
    ):
        assert expected in files


@pytest.mark.parametrize("path", nix_files())
def test_parses(path: str) -> None:
    # Nix resolves variables at parse time: an undefined name fails here too.
    proc = run([need("nix-instantiate"), "--store", STORE, "--parse", path], cwd=REPO)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("path", nix_files())
def test_plain_text_hygiene(path: str) -> None:
    """What nixfmt (run by the `formatting` flake check) would reject, checked offline."""
    text = (REPO / path).read_text(encoding="utf-8")
    assert text.endswith("\n"), "no final newline"
    assert not text.endswith("\n\n"), "blank lines at the end"
    for number, line in enumerate(text.splitlines(), 1):
        assert "\t" not in line, f"{path}:{number}: tab"
        assert line == line.rstrip(), f"{path}:{number}: trailing whitespace"
