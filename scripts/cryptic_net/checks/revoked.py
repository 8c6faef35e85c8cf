"""Revocation: revoked.yml itself, and no host with a revoked certificate (docs/lifecycle.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptic_net import certs
from cryptic_net.checks.base import Context, check
from cryptic_net.revocation import load_revoked

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cryptic_net.errors import Diagnostic
    from cryptic_net.model import HostFile, Revoked


def _loaded(ctx: Context) -> tuple[tuple[Revoked, ...], list[Diagnostic]]:
    if ctx._revoked is None:  # noqa: SLF001 (the context's cache for this module)
        ctx._revoked = load_revoked(ctx.root)  # noqa: SLF001
    found: tuple[tuple[Revoked, ...], list[Diagnostic]] = ctx._revoked  # noqa: SLF001
    return found


def revoked_entries(ctx: Context) -> tuple[Revoked, ...]:
    """The entries of revoked.yml (every host's `pki.blocklist`)."""
    return _loaded(ctx)[0]


@check("revoked-file", "inventory")
def revoked_file(ctx: Context) -> Iterator[Diagnostic]:
    """revoked.yml, when present, must follow its schema (a fingerprint as `nebula-cert print`
    shows it, a date, a reason), and list each fingerprint once. Every host's nebula refuses the
    certificates it lists (`pki.blocklist`); a malformed entry would revoke nothing."""
    yield from _loaded(ctx)[1]


@check("cert-revoked", "host")
def cert_revoked(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate must not be revoked (listed in revoked.yml): every other host refuses
    it. Give the host a new key pair (`cryptic-net sign NAME`) or remove it."""
    found = ctx.host_cert_info(host)
    entries = revoked_entries(ctx)
    path = found[0].path if found is not None else None
    if found is None or not entries or path is None:
        return
    by_fingerprint = {r.fingerprint: r for r in entries}
    cert = found[0]
    try:  # every certificate of the file: a version-1 and a version-2 one of one key differ
        infos = certs.read_certs(path)
    except certs.CertError:
        infos = (found[1],)
    gone = next((by_fingerprint[i.fingerprint] for i in infos if i.fingerprint in by_fingerprint), None)
    if gone is not None:
        yield host.doc.diag(
            cert.at,
            f"{ctx.display(cert.path or ctx.root)} was revoked on {gone.date} ({gone.where()}): "
            f"`cryptic-net sign {host.name}` gives the host a new key pair, `remove {host.name}` drops it",
        )
