"""Firewall rules (network defaults and each host's): checks nebula itself would only make at
start, on the target machine, or not at all."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from cryptic_net.checks.base import Context, check
from cryptic_net.model import RULE_SELECTORS, RuleAt, items

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cryptic_net.errors import Diagnostic


def _rules(ctx: Context) -> Iterator[RuleAt]:
    if ctx.network is not None:
        yield from ctx.network.rules()
    for host in ctx.hosts:
        yield from host.rules()


@check("rule-no-selector", "inventory")
def selector(ctx: Context) -> Iterator[Diagnostic]:
    """A rule must say whom it matches (host, group, groups, cidr, ca_name or ca_sha): nebula
    refuses a rule without one when it starts."""
    for rule in _rules(ctx):
        if not any(k in rule.raw for k in RULE_SELECTORS):
            yield rule.doc.diag(rule.at, "a rule needs one of: " + ", ".join(RULE_SELECTORS))


@check("rule-host-any-with-group", "inventory")
def host_any_with_group(ctx: Context) -> Iterator[Diagnostic]:
    """`host: any` next to `group`/`groups` matches everyone: nebula ORs them
    (https://github.com/slackhq/nebula/issues/1511), which is never what the rule reads as."""
    for rule in _rules(ctx):
        if rule.raw.get("host") == "any" and ("group" in rule.raw or "groups" in rule.raw):
            yield rule.doc.diag(
                f"{rule.at}.host", "'any' cannot be combined with group or groups (nebula#1511); drop one"
            )


@check("rule-port-range-reversed", "inventory")
def port_range(ctx: Context) -> Iterator[Diagnostic]:
    """A port (or each end of a range `from-to`, low to high) must be within 1-65535; the schema
    only checks the digits."""
    for rule in _rules(ctx):
        port = rule.raw.get("port")
        at = f"{rule.at}.port"
        if isinstance(port, str) and "-" in port:
            low, high = (int(p) for p in port.split("-"))
            if not 1 <= low <= high <= 65535:
                yield rule.doc.diag(at, f"{port!r} is not a range from low to high within 1-65535")
        elif isinstance(port, str) and port.isdigit() and not 1 <= int(port) <= 65535:
            yield rule.doc.diag(at, f"{port!r} is not a port within 1-65535")


@check("rule-bad-cidr", "inventory")
def rule_cidr(ctx: Context) -> Iterator[Diagnostic]:
    """A rule's `cidr` must be an IPv4 network address (no host bits set)."""
    for rule in _rules(ctx):
        if "cidr" in rule.raw:
            try:
                ipaddress.IPv4Network(rule.raw["cidr"])
            except ValueError as exc:
                yield rule.doc.diag(f"{rule.at}.cidr", f"not an IPv4 network: {exc}")


@check("rule-unknown-group", "inventory", needs_complete=True)
def known_groups(ctx: Context) -> Iterator[Diagnostic]:
    """Every group a rule names must be on some host, or the rule can never match (often a typo)."""
    groups = {g for h in ctx.hosts for g in h.groups}
    for rule in _rules(ctx):
        if "group" in rule.raw and rule.raw["group"] not in groups:
            yield rule.doc.diag(f"{rule.at}.group", f"group {rule.raw['group']!r} is not on any host")
        for j, group in items(rule.raw.get("groups")):
            if group not in groups:
                yield rule.doc.diag(f"{rule.at}.groups[{j}]", f"group {group!r} is not on any host")
