"""Secrets: no nebula CA private key may enter the build."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from cryptic_net.checks.base import Context, check
from cryptic_net.errors import Diagnostic
from cryptic_net.sourceset import build_inputs

if TYPE_CHECKING:
    from collections.abc import Iterator

# Banners of nebula CA private keys (ed25519 in 1.6, also P256 in 1.10; encrypted or not).
CA_KEY_BANNER = re.compile(rb"-----BEGIN NEBULA (ED25519|ECDSA P256)( ENCRYPTED)? PRIVATE KEY-----")


def source_set(ctx: Context, unlisted: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Every file that enters a host's build (`cryptic_net.sourceset`, the definition Nix reads
    too), plus whatever network.yml and the host files name, and appdir/ where an inventory
    still has one (the template now ships with the glue); sorted, each once. Directories that
    cannot be listed go to `unlisted` with the reason."""
    found = set(build_inputs(ctx.root, unlisted))
    found.update(ca.path for ca in ctx.ca_files() if ca.path is not None)

    def failed(exc: OSError) -> None:
        if unlisted is not None and exc.errno != errno.ENOENT and exc.filename is not None:
            unlisted.append((Path(exc.filename), exc.strerror or str(exc)))

    for directory, dirnames, filenames in os.walk(ctx.root / "appdir", onerror=failed):
        dirnames.sort()
        found.update(Path(directory, name) for name in filenames)
    found.update(_named_by_hosts(ctx))
    return sorted(found, key=str)


def _named_by_hosts(ctx: Context) -> Iterator[Path]:
    for host in ctx.hosts:
        cert = ctx.host_cert(host)
        if cert.path is not None:
            yield cert.path
        key = host.data.get("key")
        if isinstance(key, dict) and "file" in key:
            resolved = ctx.resolve("$.key.file", ctx.root / "hosts", key["file"]).path
            if resolved is not None:
                yield resolved


def _read(path: Path) -> bytes | str:
    """The file's bytes (following a symlink, as the build does), or why it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file (the build copies only files)"
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    finally:
        os.close(fd)


@check("ca-key-in-tree", "inventory")
def no_ca_key(ctx: Context) -> Iterator[Diagnostic]:
    """No nebula CA private key may be in any file that enters the build (network.yml, the CA
    files, appdir/, hosts/**/*.{yml,crt,key} and every file a host names): it would be copied
    into the world-readable Nix store and into AppImages. Every such file is read whole; a file
    that cannot be read is an error too, since the build would fail on it or copy it unseen."""
    unlisted: list[tuple[Path, str]] = []
    files = source_set(ctx, unlisted)
    for directory, reason in unlisted:
        yield Diagnostic(ctx.display(directory), 1, 1, "$", f"cannot be listed: {reason}")
    for path in files:
        if not os.path.lexists(path):
            continue  # reported by the check that resolves it
        data = _read(path)
        if isinstance(data, str):
            yield Diagnostic(ctx.display(path), 1, 1, "$", data)
            continue
        match = CA_KEY_BANNER.search(data)
        if match:
            line = data[: match.start()].count(b"\n") + 1
            yield Diagnostic(
                ctx.display(path),
                line,
                1,
                "$",
                "a nebula CA private key must not be in the inventory: "
                "move it somewhere safe, outside this tree",
            )
