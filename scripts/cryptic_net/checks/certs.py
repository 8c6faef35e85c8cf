"""Certificates: the network CAs, and each host's certificate and key against its host file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cryptic_net import certs
from cryptic_net.checks.base import Context, check

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cryptic_net.errors import Diagnostic
    from cryptic_net.model import HostFile, NetworkFile

EXPIRY_WARNING = timedelta(days=30)
CA_EXPIRY_WARNINGS = (timedelta(days=30), timedelta(days=90))
# Host keys are X25519 or plain P256 and may be baked on purpose.
HOST_KEY_BANNER = re.compile(rb"-----BEGIN NEBULA (X25519|P256) PRIVATE KEY-----")
KEY_READ_MAX = 64 * 1024


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- the network CAs -------------------------------------------------------------------


@check("network-ca-outside", "network")
def ca_exists(ctx: Context, net: NetworkFile) -> Iterator[Diagnostic]:
    """Each CA certificate network.yml names must exist inside the inventory: the Nix build sees
    only the inventory, and a path outside it would make the build depend on the machine."""
    for ca in ctx.ca_files():
        if ca.problem is not None:
            yield net.doc.diag(ca.at, ca.problem)


@check("network-ca-is-host-cert", "network")
def ca_is_ca(ctx: Context, net: NetworkFile) -> Iterator[Diagnostic]:
    """Each CA network.yml names must be a nebula CA certificate (not a host certificate, not
    something else): nebula trusts exactly these."""
    for ca in ctx.ca_files():
        if ca.path is None:
            continue
        found = ctx.ca_certs(ca.path)
        if isinstance(found, certs.CertError):
            yield net.doc.diag(ca.at, f"{ctx.display(ca.path)}: not a nebula certificate: {found}")
        elif not all(info.is_ca for info in found):
            yield net.doc.diag(ca.at, f"{ctx.display(ca.path)} is not a CA certificate")


def _ca_infos(ctx: Context) -> Iterator[tuple[str, certs.CertInfo]]:
    for ca in ctx.ca_files():
        if ca.path is not None:
            found = ctx.ca_certs(ca.path)
            if not isinstance(found, certs.CertError):
                yield from ((ca.at, info) for info in found if info.is_ca)


@check("ca-expired", "network")
def ca_expired(ctx: Context, net: NetworkFile) -> Iterator[Diagnostic]:
    """A trusted CA must not have expired: nebula rejects every certificate it signed. With a
    CA bundle (rotation), drop the expired CA from `ca` once every host has a certificate of
    the next one."""
    for at, info in _ca_infos(ctx):
        if info.not_after <= ctx.now:
            yield net.doc.diag(at, f"the network CA expired on {stamp(info.not_after)}")


@check("ca-expiring", "network")
def ca_expiring(ctx: Context, net: NetworkFile) -> Iterator[Diagnostic]:
    """Warns 90 and 30 days before a trusted CA expires: a new CA must be made, added to `ca`,
    and every host re-signed and rebuilt before then."""
    for at, info in _ca_infos(ctx):
        left = info.not_after - ctx.now
        if timedelta(0) < left <= max(CA_EXPIRY_WARNINGS):
            days = min(d for d in CA_EXPIRY_WARNINGS if left <= d).days
            yield net.doc.diag(
                at,
                f"the network CA expires on {stamp(info.not_after)}, within {days} days: "
                "make the next CA and add it to `ca`",
                warning=True,
            )


# --- host certificates -----------------------------------------------------------------


@check("cert-missing", "host")
def cert_exists(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate (`cert`, default `<name>.crt` beside the host file) must exist inside
    the inventory (only the inventory enters the Nix build)."""
    cert = ctx.host_cert(host)
    if cert.problem is not None:
        yield host.doc.diag(cert.at, cert.problem)


@check("cert-not-a-cert", "host")
def cert_readable(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate must be a nebula certificate."""
    cert = ctx.host_cert(host)
    if cert.path is not None:
        info = ctx.cert_info(cert.path)
        if isinstance(info, certs.CertError):
            yield host.doc.diag(cert.at, f"{ctx.display(cert.path)}: not a nebula certificate: {info}")


@check("cert-is-ca", "host")
def cert_not_ca(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate must not be a CA certificate."""
    cert = ctx.host_cert(host)
    if cert.path is not None:
        info = ctx.cert_info(cert.path)
        if isinstance(info, certs.CertInfo) and info.is_ca:
            yield host.doc.diag(
                cert.at, f"{ctx.display(cert.path)} is a CA certificate, not a host certificate"
            )


@check("cert-other-ca", "host")
def cert_issuer(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate must be issued by a CA network.yml trusts (`ca`, one or a bundle):
    the other hosts would refuse its handshakes."""
    found = ctx.host_cert_info(host)
    if found is None or not ctx.cas_complete():
        return
    cert, info = found
    if ctx.issuer_of(info) is None:
        names = ", ".join(dict.fromkeys(ctx.display(path) for path, _ in ctx.cas()))
        yield host.doc.diag(
            cert.at, f"{ctx.display(cert.path or ctx.root)} is not signed by the network CA ({names})"
        )


@check("cert-does-not-verify", "host")
def cert_verifies(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate must verify against its issuing CA (signature, and the CA's limits
    on groups and networks); dates are reported once, by `cert-expired`, `cert-not-yet-valid`
    and `ca-expired`."""
    found = ctx.signed_cert(host)
    if found is None or not ctx.cas_complete():
        return
    cert, info = found
    issuer = ctx.issuer_of(info)
    if issuer is None or cert.path is None:
        return
    # Outside its or its CA's validity, the checks on dates say so, once.
    if not (
        info.not_before <= ctx.now < info.not_after and issuer[1].not_before <= ctx.now < issuer[1].not_after
    ):
        return
    reason = certs.verify(issuer[0], cert.path, now=ctx.now)
    if reason is not None:
        yield host.doc.diag(
            cert.at, f"{ctx.display(cert.path)} does not verify against the network CA: {reason}"
        )


def _renew(host: HostFile, info: certs.CertInfo) -> str:
    # Where the certificate is this host's own, a new one for the same key is the fix.
    return f" (`cryptic-net renew {host.name}` signs a new one)" if info.name == host.name else ""


@check("cert-other-host", "host")
def cert_name(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate must carry its name (the file name): nebula and DNS use it."""
    found = ctx.signed_cert(host)
    if found is not None and found[1].name != host.name:
        yield host.doc.diag(
            found[0].at, f"certificate name is {found[1].name!r}, expected {host.name!r} (the file name)"
        )


@check("cert-ip-differs", "host")
def cert_ip(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate must carry its overlay IP and the network's prefix, first: nebula
    takes the address from the certificate, not from the host file."""
    found = ctx.signed_cert(host)
    cidr = ctx.network.cidr if ctx.network is not None else None
    ip = host.ip
    if found is None or cidr is None or ip is None:
        return
    info = found[1]
    expected = f"{ip}/{cidr.prefixlen}"
    if info.networks[:1] != (expected,):
        got = ", ".join(info.networks) or "none"
        yield host.doc.diag("$.ip", f"certificate has IP {got}, expected {expected}{_renew(host, info)}")


@check("cert-groups-differ", "host")
def cert_groups(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate must carry exactly the groups of its host file: the firewall of every
    other host matches the certificate's groups, not the file's."""
    found = ctx.signed_cert(host)
    if found is None or ("groups" in host.doc.data and "groups" not in host.data):
        return
    cert, info = found
    yaml_groups = sorted(host.groups)
    if sorted(info.groups) != yaml_groups:
        yield host.doc.diag(
            "$.groups" if "groups" in host.doc.data else cert.at,
            f"certificate groups are [{', '.join(sorted(info.groups))}], "
            f"the file says [{', '.join(yaml_groups)}]{_renew(host, info)}",
        )


@check("cert-expired", "host")
def cert_expired(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate must not have expired: nebula refuses to start with it."""
    found = ctx.signed_cert(host)
    if found is not None and found[1].not_after <= ctx.now:
        yield host.doc.diag(
            found[0].at, f"certificate expired on {stamp(found[1].not_after)}{_renew(host, found[1])}"
        )


@check("cert-not-yet-valid", "host")
def cert_not_yet(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate must already be valid (its notBefore is not in the future)."""
    found = ctx.signed_cert(host)
    if found is not None and found[1].not_before > ctx.now < found[1].not_after:
        yield host.doc.diag(found[0].at, "certificate is not valid yet (notBefore is in the future)")


@check("cert-expiring", "host")
def cert_expiring(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """Warns when a host's certificate expires within 30 days: renew it and rebuild the host."""
    found = ctx.signed_cert(host)
    if found is None:
        return
    cert, info = found
    if info.not_before <= ctx.now < info.not_after and info.not_after - ctx.now <= EXPIRY_WARNING:
        yield host.doc.diag(
            cert.at,
            f"certificate expires on {stamp(info.not_after)}, within 30 days{_renew(host, info)}",
            warning=True,
        )


@check("cert-outlives-ca", "host")
def cert_outlives(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's certificate must not outlive its CA: it would stop working when the CA expires,
    earlier than its own date says."""
    found = ctx.signed_cert(host)
    if found is None:
        return
    issuer = ctx.issuer_of(found[1])
    if issuer is not None and found[1].not_after > issuer[1].not_after:
        yield host.doc.diag(found[0].at, "certificate outlives the network CA")


# --- host keys -------------------------------------------------------------------------


@check("key-missing", "host")
def key_exists(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A baked key (`key: {file: ...}`) must exist inside the inventory."""
    key = host.data.get("key")
    if isinstance(key, dict) and "file" in key:
        found = ctx.resolve("$.key.file", ctx.root / "hosts", key["file"])
        if found.problem is not None:
            yield host.doc.diag(found.at, found.problem)


@check("key-not-a-key", "host")
def key_is_key(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A baked key must be a nebula host private key (X25519 or P256); a CA key is refused by
    `ca-key-in-tree`."""
    key = host.data.get("key")
    if not (isinstance(key, dict) and "file" in key):
        return
    found = ctx.resolve("$.key.file", ctx.root / "hosts", key["file"])
    if found.path is None:
        return
    try:
        with found.path.open("rb") as handle:
            head = handle.read(KEY_READ_MAX)
    except OSError as exc:
        yield host.doc.diag(found.at, f"{key['file']!r} cannot be read: {exc.strerror}")
        return
    if not HOST_KEY_BANNER.search(head):
        yield host.doc.diag(found.at, f"{key['file']!r} is not a nebula host private key")


@check("key-baked", "host")
def key_baked(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A warning for a key baked into the image (`key: {file: ...}`): every local user of the
    build machine can read it in the world-readable Nix store, and anyone who can read the
    AppImage file can extract it (AppRun refuses to run an image that group or others can read,
    exit 11). A key kept on the host (the default) stays out of both. A network whose keys are
    public anyway (the EXAMPLE network) can say `ignore_warnings: [key-baked]`."""
    del ctx
    key = host.data.get("key")
    if isinstance(key, dict) and "file" in key:
        yield host.doc.diag(
            "$.key.file",
            f"{host.name}'s key is baked into its AppImage: every local user of the build machine "
            "can read it in /nix/store, and anyone who can read the AppImage file can extract it; "
            "keep it on the host (the default) unless the host cannot hold a file, and install the "
            "binary with mode 0700",
            warning=True,
        )
