"""Names: host file names, and the DNS names (hosts and aliases) they claim."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptic_net.checks.base import CHECKS, Context, check
from cryptic_net.errors import Diagnostic
from cryptic_net.model import HostFile, NetworkFile, items, valid_host_name
from cryptic_net.paths import shown

if TYPE_CHECKING:
    from collections.abc import Iterator


@check("host-file-yaml-suffix", "inventory")
def yaml_suffix(ctx: Context) -> Iterator[Diagnostic]:
    """A host file must end in .yml: hosts/default.nix builds only `*.yml`, so a `.yaml` file
    would be silently left out of the network."""
    for path in ctx.host_entries:
        if path.suffix == ".yaml":
            yield Diagnostic(
                ctx.display(path), 1, 1, "$", "host files must end in .yml (only *.yml are built)"
            )


@check("hostname", "inventory")
def host_file_name(ctx: Context) -> Iterator[Diagnostic]:
    """A host's name is its file name and must be a DNS label: lowercase letters, digits and
    hyphens, starting with a letter, not ending with a hyphen, at most 63 characters. It becomes
    a DNS name, the certificate name and the Nix attribute `host-<name>`; a newline or other
    control character in it would break every file it is written into."""
    for path in ctx.host_entries:
        if path.suffix == ".yml" and not valid_host_name(path.stem):
            yield Diagnostic(
                ctx.display(path),
                1,
                1,
                "$",
                f"host name {shown(repr(path.stem))} (the file name) must be lowercase letters, digits and "
                "hyphens, start with a letter, not end with a hyphen, at most 63 characters",
            )


def _claims(ctx: Context) -> Iterator[tuple[HostFile, int, str, str | None]]:
    """Each alias in file order, with the host or alias it clashes with (None if free)."""
    taken: dict[str, str] = {h.name: h.name for h in ctx.hosts}
    for host in ctx.hosts:
        for i, alias in items(host.data.get("aliases")):
            owner = taken.get(alias)
            if owner is None:
                taken[alias] = host.name
            yield host, i, alias, owner


@check("alias-is-a-host", "inventory")
def alias_is_a_host(ctx: Context) -> Iterator[Diagnostic]:
    """An alias must not be another host's name: both would resolve in DNS, to different
    addresses, and which one answers would depend on dnsmasq's order."""
    for host, i, alias, owner in _claims(ctx):
        if owner == alias:
            yield host.doc.diag(f"$.aliases[{i}]", f"{alias!r} is already a host")


@check("alias-taken", "inventory")
def alias_taken(ctx: Context) -> Iterator[Diagnostic]:
    """An alias must be unique across the network (the first host file, by name, keeps it)."""
    for host, i, alias, owner in _claims(ctx):
        if owner is not None and owner != alias:
            yield host.doc.diag(f"$.aliases[{i}]", f"{alias!r} is already an alias of {owner}")


@check("ignore-warnings-unknown", "network")
def ignore_warnings_known(ctx: Context, net: NetworkFile) -> Iterator[Diagnostic]:
    """Every id in `ignore_warnings` names a registered check: a misspelt id would silence
    nothing and say nothing."""
    del ctx
    known = {c.id for c in CHECKS}
    for i, value in items(net.data.get("ignore_warnings")):
        if value not in known:
            yield net.doc.diag(
                f"$.ignore_warnings[{i}]", f"{value!r} is not a check id (see `cryptic-net checks`)"
            )
