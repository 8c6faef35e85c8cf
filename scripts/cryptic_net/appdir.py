"""The AppDir layout, defined once: the Nix per-host builder and the tests both call this.

The AppDir template (AppRun, the .desktop entry, the icon) ships inside this package as
`appdir-template/` (in the source tree a link to the repository's `appdir/`, the one place
those files are edited; pyproject.toml's package-data copies it into the wheel), so
`cryptic-net appdir` works from any inventory directory without `--template`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptic_net import elf
from cryptic_net.errors import UserError
from cryptic_net.output import write_tree
from cryptic_net.render import File, render_host

if TYPE_CHECKING:
    from cryptic_net.inventory import Inventory

BINARIES = ("nebula", "nebula-cert", "dnsmasq", "pmux")
# appimagetool refuses an AppDir without these at its root.
TEMPLATE_REQUIRED = ("AppRun", "cryptic-net.desktop", "cryptic-net.png")
TEMPLATE_DIR = "appdir-template"
EXECUTABLE = frozenset({"AppRun"})


def packaged_template() -> Path:
    """The template installed with the glue: a directory beside this module (setuptools
    installs package data as files; this package is never imported from a zip). Not
    importlib.resources: importing it costs each per-host step more than finding a path."""
    return Path(__file__).with_name(TEMPLATE_DIR)


def appdir_sources(template: Path, bin_dir: Path) -> dict[str, Path]:
    problems = []
    sources: dict[str, Path] = {}
    if not template.is_dir():
        raise UserError(f"{template}: AppDir template not found")
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
    sources = appdir_sources(template, bin_dir)
    # The programs must be for the host's `arch` (issue 13): Nix picks them from a line of the
    # host file (nix/arch.nix), and this is where a disagreement stops the build.
    arch = inv.host(host).arch
    wrong = elf.wrong_arch([sources[f"bin/{name}"] for name in BINARIES], arch)
    if wrong:
        raise UserError(f"host {host} is {arch} (`arch` in hosts/{host}.yml), but " + "; ".join(wrong))
    # The template is data: its modes are set here, whatever the installed copies have (the
    # Nix package keeps AppRun non-executable, so that its fixup does not rewrite the #!).
    for name in [n for n in sources if "/" not in n]:
        files[name] = File(sources.pop(name).read_bytes(), 0o755 if name in EXECUTABLE else 0o644)
    write_tree(out, dict(sorted(files.items())), sources)
