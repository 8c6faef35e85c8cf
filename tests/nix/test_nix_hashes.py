"""Every hash in the Nix code is a fact (shared/FACTS.md) or computed from one, here."""

from __future__ import annotations

import re

import pytest

from tests.nix.nixtools import REPO, need, repo_files, run

pytestmark = pytest.mark.nix

# shared/FACTS.md, "Sources (fetchFromGitHub)" and "The seed's appimagetool".
FACT_HASHES = {
    "pmux src": "sha256-BEBy3eJvRXVpedo3RfU5QCcJSH+3GvtRf445pHDHGTg=",
    "pmux vendor": "sha256-w3mFra7Je+8qIDQMSyUYucoLZ6GtrZmr56O6xmihIYc=",
    "type2-runtime 20251108": "sha256-8Ap9P0p0ZQgaIGBHzzmh6wOcIGoBT17Zyap8dnyvvZM=",
}
# nix-bundle's appimagetool.nix pins this base32 sha256 for AppImageKit release 10.
APPIMAGETOOL_BASE32 = "03zbiblj8a1yk1xsb5snxi4ckwn3diyldg1jh5hdjjhsmpw652ig"

SRI = re.compile(r"sha256-[A-Za-z0-9+/]{43}=")
# The flake's own Nix code (tests/nix/mock is a stand-in for nixpkgs, with made-up recipes).
NIX_SOURCES = repo_files(".nix", include_tests=False)


def appimagetool_sri() -> str:
    proc = run([need("nix"), "hash", "to-sri", "--type", "sha256", APPIMAGETOOL_BASE32])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_every_hash_is_known() -> None:
    known = {*FACT_HASHES.values(), appimagetool_sri()}
    found = {}
    for path in NIX_SOURCES:
        for match in SRI.findall(path.read_text(encoding="utf-8")):
            found.setdefault(match, path.relative_to(REPO).as_posix())
    unknown = {h: where for h, where in found.items() if h not in known}
    assert not unknown
    # And each fact is used (a stale fact would mean a stale pin).
    assert known == set(found)


def test_appimagetool_hash_is_the_seed_one() -> None:
    text = (REPO / "pkgs" / "appimagetool" / "package.nix").read_text(encoding="utf-8")
    assert f'hash = "{appimagetool_sri()}";' in text
    for asset in ("10/appimagetool-x86_64.AppImage", "10/obsolete-appimagetool-x86_64.AppImage"):
        assert f"https://github.com/AppImage/AppImageKit/releases/download/{asset}" in text


@pytest.mark.parametrize("path", NIX_SOURCES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_placeholder_or_legacy_hash(path) -> None:
    text = path.read_text(encoding="utf-8")
    for bad in ("fakeHash", "fakeSha256", 'hash = ""', 'sha256 = "', "vendorSha256", "AAAAAAAAAAAA"):
        assert bad not in text


def test_facts_agree() -> None:
    for candidate in (REPO.parent / "shared" / "FACTS.md",):
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8")
            for value in [*FACT_HASHES.values(), APPIMAGETOOL_BASE32]:
                assert value in text
            return
    pytest.skip("shared/FACTS.md is not beside the repository")
