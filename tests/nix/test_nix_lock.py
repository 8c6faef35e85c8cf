"""flake.lock: written by hand (Nix cannot fetch here), so checked here.

Format version 7 as `nix flake lock` writes it; every input locked with exactly the fields Nix
writes for a github input, to the values the project pins in nix/pins.json (`flake_inputs`);
`original` says what flake.nix says.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.nix.nixtools import REPO, instantiate_eval

pytestmark = pytest.mark.nix

LOCKED_FIELDS = ("lastModified", "narHash", "owner", "repo", "rev")


def flake_inputs() -> dict[str, dict[str, Any]]:
    data = json.loads((REPO / "nix" / "pins.json").read_text(encoding="utf-8"))
    return data["flake_inputs"]


PINS = {
    name: {**{field: pin[field] for field in LOCKED_FIELDS}, "type": "github"}
    for name, pin in flake_inputs().items()
}
# What flake.nix asks for: a branch (`ref`) where the pin has one, else the revision itself.
ORIGINAL = {
    name: {
        "owner": pin["owner"],
        "repo": pin["repo"],
        **({"ref": pin["ref"]} if "ref" in pin else {"rev": pin["rev"]}),
        "type": "github",
    }
    for name, pin in flake_inputs().items()
}


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
