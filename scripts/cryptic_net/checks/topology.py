"""Topology: lighthouses, relays and the ports they listen on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptic_net.checks.base import Context, check
from cryptic_net.model import HostFile, items

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cryptic_net.errors import Diagnostic


@check("no-lighthouse", "inventory", needs_complete=True)
def some_lighthouse(ctx: Context) -> Iterator[Diagnostic]:
    """At least one host must be a lighthouse: without one, no host finds any other."""
    if ctx.network is not None and ctx.hosts and not any(h.is_lighthouse for h in ctx.hosts):
        yield ctx.network.doc.diag(
            "$", "no host is a lighthouse: give one host `lighthouse: {endpoints: [...]}`"
        )


@check("lighthouse-with-lighthouses", "host")
def lighthouse_list(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A lighthouse does not use other lighthouses (nebula: `am_lighthouse` ignores `hosts`)."""
    del ctx
    if host.is_lighthouse and "lighthouses" in host.doc.data:
        yield host.doc.diag(
            "$.lighthouses", "a lighthouse does not use other lighthouses; remove this list", key=True
        )


@check("lighthouse-port-zero", "host")
def lighthouse_port(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A lighthouse needs a fixed listen port: the other hosts dial its endpoints' port."""
    del ctx
    if host.is_lighthouse and host.data.get("listen_port") == 0:
        yield host.doc.diag("$.listen_port", "a lighthouse needs a fixed port, not 0")


@check("endpoint-port-range", "host")
def endpoint_ports(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A lighthouse endpoint's port must be within 1-65535 (the schema only bounds its digits)."""
    del ctx
    for i, endpoint in host.endpoints:
        port = int(endpoint.rsplit(":", 1)[1])
        if not 1 <= port <= 65535:
            yield host.doc.diag(f"$.lighthouse.endpoints[{i}]", f"port {port} is not within 1-65535")


def _named(ctx: Context, host: HostFile, key: str) -> Iterator[tuple[str, str, HostFile | None]]:
    by_name = ctx.by_name
    for i, name in items(host.data.get(key)):
        yield f"$.{key}[{i}]", name, by_name.get(name)


@check("lighthouses-unknown", "host", needs_complete=True)
def lighthouses_exist(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """Every host a `lighthouses` list names must exist."""
    for at, name, other in _named(ctx, host, "lighthouses"):
        if other is None:
            yield host.doc.diag(at, f"no host named {name!r}")


@check("lighthouses-not-a-lighthouse", "host")
def lighthouses_are_lighthouses(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """Every host a `lighthouses` list names must be a lighthouse (have `lighthouse:`)."""
    for at, name, other in _named(ctx, host, "lighthouses"):
        if other is not None and not other.is_lighthouse:
            yield host.doc.diag(at, f"{name!r} is not a lighthouse")


@check("relay-self", "host")
def relay_not_self(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host cannot relay for itself: a relay is another host that reaches it."""
    for at, name, _ in _named(ctx, host, "relays"):
        if name == host.name:
            yield host.doc.diag(at, "a host cannot be its own relay")


@check("relay-unknown-host", "host", needs_complete=True)
def relays_exist(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """Every host a `relays` list names must exist."""
    for at, name, other in _named(ctx, host, "relays"):
        if other is None and name != host.name:
            yield host.doc.diag(at, f"no host named {name!r}")


@check("relay-not-a-relay", "host")
def relays_relay(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """Every host a `relays` list names must have `relay: true`, or nebula will not relay."""
    for at, name, other in _named(ctx, host, "relays"):
        if other is not None and name != host.name and not other.relay:
            yield host.doc.diag(at, f"{name!r} is not a relay (it needs `relay: true`)")
