"""Git: inventory files a flake would not see.

A flake's source is what git tracks: a host file that is not `git add`ed validates here and is
missing in `nix build` (https://nix.dev/manual/nix/stable/command-ref/new-cli/nix3-flake#flake-references:
"only files tracked by Git are copied to the Nix store").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptic_net.checks.base import Context, check
from cryptic_net.errors import Diagnostic
from cryptic_net.git import git
from cryptic_net.sourceset import build_inputs

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _build_inputs(ctx: Context) -> list[Path]:
    """What the Nix build reads (`cryptic_net.sourceset`) and the CA files network.yml names."""
    files = build_inputs(ctx.root)
    files += [ca.path for ca in ctx.ca_files() if ca.path is not None]
    root = ctx.root.resolve()
    return sorted({p for p in files if p.is_file() and p.resolve().is_relative_to(root)}, key=str)


@check("inventory-untracked", "inventory")
def untracked(ctx: Context) -> Iterator[Diagnostic]:
    """Warns about an inventory file that git does not track, when the inventory is in a git work
    tree: a flake sees only tracked files, so the Nix build would miss it (or build without it)."""
    probe = git(ctx.root, "rev-parse", "--is-inside-work-tree")
    if probe is None or probe.returncode != 0 or probe.stdout.strip() != "true":
        return
    files = _build_inputs(ctx)
    if not files:
        return
    rel = [str(p.relative_to(ctx.root)) for p in files]
    listed = git(ctx.root, "ls-files", "-z", "--", *rel)
    if listed is None or listed.returncode != 0:
        return
    tracked = set(listed.stdout.split("\0"))
    for name in rel:
        if name not in tracked:
            yield Diagnostic(
                name,
                1,
                1,
                "$",
                f"not tracked by git: a flake does not see it (`git add {name}`)",
                "warning",
            )
