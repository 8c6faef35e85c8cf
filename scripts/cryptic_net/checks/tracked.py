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


# Beyond this many untracked files (a network imported whole, an inventory under an ignored
# directory), one warning says how many and what to add instead of a line per file.
LISTED = 10


def _ignored(ctx: Context, names: list[str]) -> set[str]:
    """Those of `names` that git ignores (`git add` refuses them without -f)."""
    found = git(ctx.root, "check-ignore", "--stdin", "-z", stdin="".join(f"{n}\0" for n in names))
    # 0: some are ignored, 1: none is; anything else (or no git) says nothing.
    if found is None or found.returncode not in (0, 1):
        return set()
    return set(found.stdout.split("\0")) - {""}


def _advice(name: str, ignored: bool) -> str:
    if ignored:
        return f"ignored by git (a .gitignore names it): a flake does not see it (`git add -f {name}`)"
    return f"not tracked by git: a flake does not see it (`git add {name}`)"


@check("inventory-untracked", "inventory")
def untracked(ctx: Context) -> Iterator[Diagnostic]:
    """Warns about an inventory file that git does not track, when the inventory is in a git work
    tree: a flake sees only tracked files, so the Nix build would miss it (or build without it).
    More than ten such files make one warning that counts them."""
    probe = git(ctx.root, "rev-parse", "--is-inside-work-tree")
    if probe is None or probe.returncode != 0 or probe.stdout.strip() != "true":
        return
    files = _build_inputs(ctx)
    if not files:
        return
    # Every tracked file under the root, relative to it: one answer, whatever the number of
    # hosts (naming each file on the command line would meet the kernel's argument limit).
    listed = git(ctx.root, "ls-files", "-z")
    if listed is None or listed.returncode != 0:
        return
    tracked = set(listed.stdout.split("\0"))
    missing = [name for name in (p.relative_to(ctx.root).as_posix() for p in files) if name not in tracked]
    if len(missing) <= LISTED:
        ignored = _ignored(ctx, missing) if missing else set()
        for name in missing:
            yield Diagnostic(name, 1, 1, "$", _advice(name, name in ignored), "warning")
        return
    tops = sorted({name.split("/", 1)[0] + ("/" if "/" in name else "") for name in missing})
    ignored = _ignored(ctx, missing)
    also = f" ({len(ignored)} of them named by a .gitignore: `git add -f` those)" if ignored else ""
    yield Diagnostic(
        missing[0],
        1,
        1,
        "$",
        f"{len(missing)} inventory files are not tracked by git{also}, and a flake sees none of "
        f"them: {', '.join(missing[:3])} and {len(missing) - 3} more (`git add {' '.join(tops)}`)",
        "warning",
    )
