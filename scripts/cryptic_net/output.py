"""Writing trees atomically and deterministically: a temp dir beside the target, then rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from cryptic_net.errors import UserError

if TYPE_CHECKING:
    from cryptic_net.render import File

MARKER = "etc/cryptic-net/host.env"


def fixed_mtime() -> int:
    """Nix sets SOURCE_DATE_EPOCH in every build; elsewhere 1, like the Nix store."""
    try:
        return int(os.environ.get("SOURCE_DATE_EPOCH", "1"))
    except ValueError:
        raise UserError("SOURCE_DATE_EPOCH must be a whole number of seconds") from None


def _check_target(out: Path) -> None:
    if not out.exists() and not out.is_symlink():
        return
    if out.is_dir() and not out.is_symlink() and (not any(out.iterdir()) or (out / MARKER).is_file()):
        return  # empty, or our own earlier output: replaced as a whole
    raise UserError(f"{out}: exists and is not an earlier cryptic-net output; choose a new --out")


def normalise(tree: Path) -> None:
    """Same bytes, same metadata: modes and mtimes set, deepest first."""
    stamp = fixed_mtime()
    for top, dirs, files in os.walk(tree, topdown=False):
        for name in files:
            path = Path(top) / name
            if not path.is_symlink():
                os.utime(path, (stamp, stamp))
        for name in dirs:
            path = Path(top) / name
            path.chmod(0o755)
            os.utime(path, (stamp, stamp))
    tree.chmod(0o755)
    os.utime(tree, (stamp, stamp))


def write_tree(out: Path, files: dict[str, File], extra: dict[str, Path] | None = None) -> None:
    """Write `files` (and copy `extra` sources) as the directory `out`, all or nothing."""
    out = out.absolute()
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for rel, file in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(file.content)
            path.chmod(file.mode)
        for rel, source in (extra or {}).items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, path)
            path.chmod(0o755 if os.access(source, os.X_OK) else 0o644)
        normalise(staging)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / "tree")
            staging.rename(out)
            shutil.rmtree(old)
        else:
            staging.rename(out)
    except OSError as exc:
        raise UserError(f"{out}: cannot write: {exc.strerror or exc}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def write_file(out: Path, content: bytes) -> None:
    """Write one file, all or nothing: a temp file beside it, then rename."""
    out = out.absolute()
    if out.is_dir() or out.is_symlink():
        raise UserError(f"{out}: is a directory or a symlink; choose a new --out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            tmp.chmod(0o644)
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise UserError(f"{out}: cannot write: {exc.strerror or exc}") from None
