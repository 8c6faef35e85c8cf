"""The AppDir layout, defined once: the Nix per-host builder and the tests both call this."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cryptic_net.errors import UserError
from cryptic_net.output import write_tree
from cryptic_net.render import render_host

if TYPE_CHECKING:
    from pathlib import Path

    from cryptic_net.inventory import Inventory

BINARIES = ("nebula", "nebula-cert", "dnsmasq", "pmux")
# appimagetool refuses an AppDir without these at its root.
TEMPLATE_REQUIRED = ("AppRun", "cryptic-net.desktop", "cryptic-net.png")


def appdir_sources(template: Path, bin_dir: Path) -> dict[str, Path]:
    problems = []
    sources: dict[str, Path] = {}
    if not template.is_dir():
        raise UserError(f"{template}: AppDir template not found (pass --template DIR)")
    for entry in sorted(template.iterdir()):
        if entry.is_file():
            sources[entry.name] = entry
    problems += [
        f"{template / name}: missing from the template" for name in TEMPLATE_REQUIRED if name not in sources
    ]
    for name in BINARIES:
        binary = bin_dir / name
        if not binary.is_file():
            problems.append(f"{binary}: missing (the bundle needs {', '.join(BINARIES)})")
        elif not os.access(binary, os.X_OK):
            problems.append(f"{binary}: not executable")
        else:
            sources[f"bin/{name}"] = binary
    if problems:
        raise UserError("; ".join(problems))
    return sources


def assemble(inv: Inventory, host: str, bin_dir: Path, template: Path, out: Path) -> None:
    files = render_host(inv, host)
    write_tree(out, files, appdir_sources(template, bin_dir))
