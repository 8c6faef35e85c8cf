"""Addresses: the overlay network, each host's overlay IP, and the DNS upstreams."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from cryptic_net.checks.base import Context, check
from cryptic_net.model import HostFile, NetworkFile, items, upstream_problem

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cryptic_net.errors import Diagnostic


@check("network-cidr-host-bits", "network")
def cidr_parses(ctx: Context, net: NetworkFile) -> Iterator[Diagnostic]:
    """The overlay `cidr` must be a network address (`10.42.0.0/24`, not `10.42.0.5/24`):
    nebula and the certificates take the prefix as written."""
    del ctx
    if "cidr" in net.data:
        try:
            ipaddress.IPv4Network(net.data["cidr"])
        except ValueError as exc:
            yield net.doc.diag("$.cidr", f"not an IPv4 network: {exc}")


@check("network-cidr-too-small", "network")
def cidr_size(ctx: Context, net: NetworkFile) -> Iterator[Diagnostic]:
    """The overlay needs room for hosts: /30 or shorter."""
    del ctx
    try:
        cidr = ipaddress.IPv4Network(net.data["cidr"])
    except (KeyError, ValueError):
        return
    if cidr.prefixlen > 30:
        yield net.doc.diag("$.cidr", "prefix must be /30 or shorter: the network needs room for hosts")


@check("network-upstream-not-ip", "network")
def upstreams(ctx: Context, net: NetworkFile) -> Iterator[Diagnostic]:
    """Each DNS upstream must be an IPv4 or IPv6 address, optionally `#PORT` (dnsmasq's
    `server=` form), without an IPv6 zone id: the value is written into dnsmasq's configuration
    as it is, so anything else could add configuration lines."""
    del ctx
    for i, upstream in items(net.defaults.get("dns_upstreams")):
        problem = upstream_problem(upstream)
        if problem is not None:
            yield net.doc.diag(f"$.defaults.dns_upstreams[{i}]", problem)


@check("ip-bad-octet", "host")
def ip_parses(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's `ip` must be an IPv4 address (each octet 0-255)."""
    del ctx
    if "ip" in host.data:
        try:
            ipaddress.IPv4Address(host.data["ip"])
        except ValueError as exc:
            yield host.doc.diag("$.ip", f"not an IPv4 address: {exc}")


def _ip_and_cidr(ctx: Context, host: HostFile) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Network] | None:
    cidr = ctx.network.cidr if ctx.network is not None else None
    try:
        ip = ipaddress.IPv4Address(host.data["ip"])
    except (KeyError, ValueError):
        return None
    return (ip, cidr) if cidr is not None else None


@check("ip-outside-cidr", "host")
def ip_inside(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's `ip` must be inside the network's `cidr`, or no other host routes to it."""
    found = _ip_and_cidr(ctx, host)
    if found is not None and found[0] not in found[1]:
        yield host.doc.diag("$.ip", f"{found[0]} is outside the network {found[1]}")


@check("ip-network-address", "host")
def ip_not_network(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's `ip` must not be the network address of `cidr` (nebula refuses it)."""
    found = _ip_and_cidr(ctx, host)
    if found is not None and found[0] == found[1].network_address:
        yield host.doc.diag("$.ip", f"{found[0]} is the network address of {found[1]}")


@check("ip-broadcast-address", "host")
def ip_not_broadcast(ctx: Context, host: HostFile) -> Iterator[Diagnostic]:
    """A host's `ip` must not be the broadcast address of `cidr` (nebula refuses it)."""
    found = _ip_and_cidr(ctx, host)
    if found is not None and found[0] == found[1].broadcast_address:
        yield host.doc.diag("$.ip", f"{found[0]} is the broadcast address of {found[1]}")


@check("ip-duplicate", "inventory")
def ip_unique(ctx: Context) -> Iterator[Diagnostic]:
    """Two hosts must not share an overlay IP: nebula would route to whichever answered last."""
    first: dict[ipaddress.IPv4Address, HostFile] = {}
    for host in ctx.hosts:
        ip = host.ip
        if ip is None:
            continue
        if ip in first:
            owner = first[ip]
            line, col = owner.doc.where("$.ip")
            yield host.doc.diag(
                "$.ip", f"{ip} is already used by {owner.name} ({owner.doc.file}:{line}:{col})"
            )
        else:
            first[ip] = host
