"""nix/hosts.nix: one `host-<name>` per hosts/<name>.yml, with builtins only.

Evaluated with a stub builder and no nixpkgs, both with `nix-instantiate --eval` and with plain
`nix eval`, on the repository and on temporary copies with hosts added or decoys present.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

import pytest

from tests.nix.nixtools import REPO, instantiate_eval, nix_eval

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.nix

# The per-host builder is replaced by a stub that only records its argument.
STUB = "import ./nix/hosts.nix {{ dir = ./hosts; buildHost = host: {{ stub = true; inherit host; }}; }}"

EVALUATORS: dict[str, Callable[[str, Path], Any]] = {
    "nix-instantiate": instantiate_eval,
    "nix eval": nix_eval,
}


def expected(root: Path) -> dict[str, Any]:
    stems = sorted(p.stem for p in (root / "hosts").glob("*.yml") if not p.name.startswith("."))
    return {f"host-{s}": {"stub": True, "host": s} for s in stems}


def hosts_copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "hosts").mkdir(parents=True)
    (root / "nix").mkdir()
    shutil.copy2(REPO / "nix" / "hosts.nix", root / "nix" / "hosts.nix")
    for path in (REPO / "hosts").glob("*.yml"):
        shutil.copy2(path, root / "hosts" / path.name)
    return root


@pytest.fixture(params=sorted(EVALUATORS))
def evaluate(request: pytest.FixtureRequest) -> Callable[[str, Path], Any]:
    return EVALUATORS[request.param]


def test_repository_hosts(evaluate: Callable[[str, Path], Any]) -> None:
    got = evaluate(STUB.format(), REPO)
    assert got == expected(REPO)
    # The example network, by name.
    assert {"host-lighthouse", "host-alpha", "host-beta"} <= set(got)


def test_new_yaml_file_is_a_new_output(tmp_path: Path, evaluate: Callable[[str, Path], Any]) -> None:
    root = hosts_copy(tmp_path)
    before = evaluate(STUB.format(), root)
    (root / "hosts" / "gamma.yml").write_text("ip: 10.42.0.9\n", encoding="utf-8")
    after = evaluate(STUB.format(), root)
    assert set(after) - set(before) == {"host-gamma"}
    assert after["host-gamma"] == {"stub": True, "host": "gamma"}
    assert after == expected(root)


def test_only_yml_files_count(tmp_path: Path, evaluate: Callable[[str, Path], Any]) -> None:
    root = hosts_copy(tmp_path)
    hosts = root / "hosts"
    # Certificates, keys, other suffixes, hidden files and directories are not hosts.
    for decoy in ("delta.crt", "delta.key", "delta.yaml", "delta.yml.bak", ".delta.yml", "README"):
        (hosts / decoy).write_text("x\n", encoding="utf-8")
    (hosts / "epsilon.yml").mkdir()
    assert evaluate(STUB.format(), root) == expected(REPO)


def test_builder_is_called_lazily(tmp_path: Path, evaluate: Callable[[str, Path], Any]) -> None:
    """Listing the outputs builds nothing: a broken host only fails when it is asked for."""
    root = hosts_copy(tmp_path)
    expr = (
        "builtins.attrNames (import ./nix/hosts.nix"
        ' { dir = ./hosts; buildHost = host: throw "built ${host}"; })'
    )
    assert evaluate(expr, root) == sorted(expected(root))


def test_no_hosts_directory_no_hosts(tmp_path: Path, evaluate: Callable[[str, Path], Any]) -> None:
    """Right after `nix flake init` there is no hosts/ yet: no outputs, no error."""
    root = hosts_copy(tmp_path)
    shutil.rmtree(root / "hosts")
    assert evaluate(STUB.format(), root) == {}


def test_no_nixpkgs_and_no_yaml_parsing() -> None:
    text = (REPO / "nix" / "hosts.nix").read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for forbidden in ("<nixpkgs>", "import-from", "fromYAML", "lib.", "pkgs", "readFile", "fetch"):
        assert forbidden not in code
