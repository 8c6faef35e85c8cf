"""flake.lock: written by hand (Nix cannot fetch here), so checked here.

Format version 7 as `nix flake lock` writes it; every input locked with exactly the fields in
shared/FACTS.md, to the values there; `original` says what flake.nix says.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.nix.nixtools import REPO, instantiate_eval

pytestmark = pytest.mark.nix

# From shared/FACTS.md, "Pins (flake inputs)".
PINS = {
    "nixpkgs": {
        "lastModified": 1791426274,
        "narHash": "sha256-MWhktfFtFE8Jl7bf9Pkp7TR5MSdYCjCswSo0Gkb4ywc=",
        "owner": "NixOS",
        "repo": "nixpkgs",
        "rev": "7c8764b7c7b09b34f632464276218ef9090eaa11",
        "type": "github",
    },
    "nix-bundle": {
        "lastModified": 1626704917,
        "narHash": "sha256-cJ73kxY5ZCPWQeQZyCSdvkBqjqJkU5wgETBNaXfqF18=",
        "owner": "matthewbauer",
        "repo": "nix-bundle",
        "rev": "223f4ffc4179aa318c34dc873a08cb00090db829",
        "type": "github",
    },
}
ORIGINAL = {
    "nixpkgs": {"owner": "NixOS", "ref": "nixos-26.05", "repo": "nixpkgs", "type": "github"},
    "nix-bundle": {
        "owner": "matthewbauer",
        "repo": "nix-bundle",
        "rev": "223f4ffc4179aa318c34dc873a08cb00090db829",
        "type": "github",
    },
}


def facts_file() -> Path | None:
    for candidate in (REPO.parent / "shared" / "FACTS.md", Path("/work/shared/FACTS.md")):
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def lock() -> dict:
    text = (REPO / "flake.lock").read_text(encoding="utf-8")
    data = json.loads(text)
    # Byte for byte what Nix writes: sorted keys, two-space indent, final newline.
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    return data


def test_format(lock: dict) -> None:
    assert lock["version"] == 7
    assert lock["root"] == "root"
    assert set(lock["nodes"]) == {"root", *PINS}
    assert lock["nodes"]["root"] == {"inputs": {name: name for name in PINS}}


@pytest.mark.parametrize("name", sorted(PINS))
def test_input_locked(lock: dict, name: str) -> None:
    node = lock["nodes"][name]
    assert node["locked"] == PINS[name]
    assert re.fullmatch(r"[0-9a-f]{40}", node["locked"]["rev"])
    assert re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", node["locked"]["narHash"])
    assert node["original"] == ORIGINAL[name]


def test_nix_bundle_is_not_a_flake(lock: dict) -> None:
    assert lock["nodes"]["nix-bundle"]["flake"] is False
    assert "flake" not in lock["nodes"]["nixpkgs"]


def test_original_matches_flake_nix() -> None:
    inputs = instantiate_eval("(import ./flake.nix).inputs", REPO)
    assert set(inputs) == set(PINS)
    for name, original in ORIGINAL.items():
        ref = original.get("ref") or original["rev"]
        url = f"{original['type']}:{original['owner']}/{original['repo']}/{ref}"
        assert inputs[name]["url"] == url
    assert inputs["nix-bundle"]["flake"] is False


def test_pins_are_the_facts() -> None:
    facts = facts_file()
    if facts is None:
        pytest.skip("shared/FACTS.md is not beside the repository")
    text = facts.read_text(encoding="utf-8")
    for pin in PINS.values():
        for field in ("narHash", "rev", "lastModified"):
            assert str(pin[field]) in text, f"{pin['repo']} {field} is not in FACTS.md"
    assert "nixos-26.05" in text
