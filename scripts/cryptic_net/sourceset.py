"""The files of an inventory that enter its Nix build, by the one definition both sides read.

`inventory-files.json` (shipped in this package) says which: Nix turns it into the build's
source set (nix/inventory-files.nix, nix/sources.nix), and the glue lists the same files for
the secret scan (no CA key may enter the build) and the untracked-file warning (a flake sees
only what git tracks).
"""

from __future__ import annotations

import errno
import functools
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any


@functools.cache
def spec() -> dict[str, Any]:
    text = resources.files("cryptic_net").joinpath("inventory-files.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def build_inputs(root: Path, unlisted: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Every file under `root` that the Nix build copies, sorted; a directory that cannot be
    listed goes to `unlisted` with the reason (the build would fail on it too)."""
    rules = spec()
    found = [root / name for name in rules["files"]]
    found += [root / name for name in rules["optionalFiles"] if (root / name).is_file()]
    root_ext = tuple(f".{ext}" for ext in rules["rootExtensions"])
    host_ext = tuple(f".{ext}" for ext in rules["hostExtensions"])

    def failed(exc: OSError) -> None:
        if unlisted is not None and exc.errno != errno.ENOENT and exc.filename is not None:
            unlisted.append((Path(exc.filename), exc.strerror or str(exc)))

    try:
        with os.scandir(root) as entries:
            found += [Path(e.path) for e in entries if e.name.endswith(root_ext) and e.is_file()]
    except OSError as exc:
        failed(exc)
    for directory, dirnames, filenames in os.walk(root / rules["hostsDir"], onerror=failed):
        dirnames.sort()
        found += [Path(directory, name) for name in filenames if name.endswith(host_ext)]
    return sorted(set(found), key=str)
