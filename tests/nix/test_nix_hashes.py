"""Every hash in the Nix code is one of the project's pins (nix/pins.json), and each pin is used."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.nix.nixtools import REPO, need, repo_files, run

pytestmark = pytest.mark.nix

SRI = re.compile(r"sha256-[A-Za-z0-9+/]{43}=")
# The flake's own Nix code (tests/nix/mock is a stand-in for nixpkgs, with made-up recipes).
NIX_SOURCES = repo_files(".nix", include_tests=False)


def pins() -> dict[str, Any]:
    return json.loads((REPO / "nix" / "pins.json").read_text(encoding="utf-8"))


def source_hashes() -> dict[str, str]:
    """Every hash of `sources` in pins.json, named `<source>.<field>`."""
    return {
        f"{name}.{field}": value
        for name, source in pins()["sources"].items()
        for field, value in source.items()
        if field in {"hash", "vendorHash"}
    }


def test_appimagetool_sri_is_the_base32_of_nix_bundle() -> None:
    tool = pins()["sources"]["appimagetool"]
    proc = run([need("nix"), "hash", "to-sri", "--type", "sha256", tool["sha256_base32"]])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == tool["hash"]


def test_every_hash_is_a_pin() -> None:
    known = source_hashes()
    found: dict[str, str] = {}
    for path in NIX_SOURCES:
        for match in SRI.findall(path.read_text(encoding="utf-8")):
            found.setdefault(match, path.relative_to(REPO).as_posix())
    unknown = {h: where for h, where in found.items() if h not in known.values()}
    assert not unknown
    # And each pin of something the flake fetches is used (a stale pin is a wrong fact).
    # nebula's source hash is not: the flake builds nixpkgs' nebula; the tests build that tag.
    unused = {name for name, h in known.items() if h not in found and name != "nebula.hash"}
    assert not unused


@pytest.mark.parametrize(
    ("package", "fields"),
    [
        ("pkgs/pmux/package.nix", {"rev": "pmux.rev", "hash": "pmux.hash", "vendorHash": "pmux.vendorHash"}),
        (
            "pkgs/appimage-runtime/package.nix",
            {"rev": "type2-runtime.rev", "hash": "type2-runtime.hash"},
        ),
        ("pkgs/appimagetool/package.nix", {"hash": "appimagetool.hash"}),
    ],
)
def test_package_pins(package: str, fields: dict[str, str]) -> None:
    text = (REPO / package).read_text(encoding="utf-8")
    sources = pins()["sources"]
    for attr, ref in fields.items():
        source, field = ref.split(".")
        assert f'{attr} = "{sources[source][field]}";' in text, f"{package}: {attr} is not {ref}"


def test_appimagetool_urls() -> None:
    text = (REPO / "pkgs" / "appimagetool" / "package.nix").read_text(encoding="utf-8")
    for url in pins()["sources"]["appimagetool"]["urls"]:
        assert f'"{url}"' in text


def test_every_pin_says_how() -> None:
    data = pins()
    for group in ("flake_inputs", "sources"):
        for name, pin in data[group].items():
            assert pin.get("how"), f"{group}.{name} does not say how it was obtained"


@pytest.mark.parametrize("path", NIX_SOURCES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_placeholder_or_legacy_hash(path) -> None:
    text = path.read_text(encoding="utf-8")
    for bad in ("fakeHash", "fakeSha256", 'hash = ""', 'sha256 = "', "vendorSha256", "AAAAAAAAAAAA"):
        assert bad not in text
