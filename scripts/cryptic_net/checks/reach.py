"""What the `reach` engine judges: policy tests (`policy.yml`) and firewall rules that can
never match or add nothing, with (nebula 1.10.3's firewall semantics, docs/reach.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptic_net import policy, reach
from cryptic_net.checks.base import Context, check
from cryptic_net.model import PRUNED, rule

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cryptic_net.errors import Diagnostic
    from cryptic_net.model import HostFile, RuleAt


def _usable(raw: dict[str, object]) -> bool:
    """A rule the engine can read: its cidr parses and its ports are in order (the other
    firewall checks report the rest)."""
    try:
        spec = reach.RuleSpec.of(rule(raw))
    except ValueError:
        return False
    return all(reach.PORT_MIN <= low <= high <= reach.PORT_MAX for low, high in spec.ports.ranges)


def _side(
    ctx: Context, locator: reach.Locator, rules: list[RuleAt], direction: str
) -> tuple[reach.Located, ...] | None:
    chosen = [r for r in rules if r.at.rsplit(".", 1)[-1].startswith(direction)]
    if not all(_usable(r.raw) for r in chosen):
        return None
    for r in chosen:
        locator.docs.setdefault(r.doc.file, r.doc)
    del ctx
    return tuple(reach.Located(rule(r.raw), r.doc.file, r.at, locator) for r in chosen)


def _pruned(firewall: object) -> bool:
    if not isinstance(firewall, dict):
        return False
    return any(PRUNED in (firewall.get(d) or []) for d in ("inbound", "outbound"))


_LAST: list[tuple[Context, reach.Reach | None]] = []


def engine(ctx: Context) -> reach.Reach | None:
    """The whole network as `reach` sees it, once per context; None while a host's address
    or a rule is not usable (their own checks say why)."""
    if _LAST and _LAST[0][0] is ctx:
        return _LAST[0][1]
    found = _build(ctx)
    _LAST[:] = [(ctx, found)]
    return found


def _build(ctx: Context) -> reach.Reach | None:
    if ctx.network is None or not ctx.complete or _pruned(ctx.network.defaults.get("firewall")):
        return None
    locator = reach.Locator(ctx.root)
    defaults = list(ctx.network.rules())
    uses_ca = any("ca_name" in r.raw or "ca_sha" in r.raw for r in defaults) or any(
        "ca_name" in r.raw or "ca_sha" in r.raw for h in ctx.hosts for r in h.rules()
    )
    nodes = []
    for host in ctx.hosts:
        ip = host.ip
        if ip is None or _pruned(host.data.get("firewall")):
            return None
        rules = defaults + list(host.rules())
        inbound = _side(ctx, locator, rules, "inbound")
        outbound = _side(ctx, locator, rules, "outbound")
        if inbound is None or outbound is None:
            return None
        ca_name, ca_sha = _ca(ctx, host) if uses_ca else ("", "")
        nodes.append(reach.Node(host.name, ip, frozenset(host.groups), inbound, outbound, ca_name, ca_sha))
    return reach.Reach(nodes)


def _ca(ctx: Context, host: HostFile) -> tuple[str, str]:
    signed = ctx.signed_cert(host)
    if signed is None:
        return "", ""
    issuer = ctx.issuer_of(signed[1])
    return (issuer[1].name if issuer is not None else ""), signed[1].issuer


# --- firewall rules people get wrong ---------------------------------------------------


def _lint(ctx: Context, check_id: str) -> Iterator[Diagnostic]:
    found = engine(ctx)
    if found is not None:
        yield from (d for one, d in reach.lint(found) if one == check_id)


@check("rule-groups-never-held", "inventory", needs_complete=True)
def groups_never_held(ctx: Context) -> Iterator[Diagnostic]:
    """A `groups` combination must be held, all of it, by some host's certificate.

    `groups` means all of them (https://github.com/slackhq/nebula/issues/96): a combination
    that no host holds never matches by its groups, and usually means "any of" was meant
    (write one rule per group)."""
    yield from _lint(ctx, "rule-groups-never-held")


@check("rule-icmp-port", "inventory", needs_complete=True)
def icmp_port(ctx: Context) -> Iterator[Diagnostic]:
    """An ICMP rule must have `port: any`, or nebula 1.10 never matches it.

    ICMP has no ports: nebula 1.10 files every ICMP packet under port 0, which only
    `port: any` rules hold (nebula 1.11 ignores the port instead,
    https://github.com/slackhq/nebula/pull/1609)."""
    yield from _lint(ctx, "rule-icmp-port")


@check("rule-duplicate", "inventory", needs_complete=True)
def duplicate(ctx: Context) -> Iterator[Diagnostic]:
    """The same rule twice on one side of a host (a warning).

    The network's defaults count as each side's first rules. Harmless, but noise."""
    yield from _lint(ctx, "rule-duplicate")


@check("rule-shadowed", "inventory", needs_complete=True)
def shadowed(ctx: Context) -> Iterator[Diagnostic]:
    """A rule that an earlier rule on the same side already covers (a warning).

    Covered means proto, ports, CA and every peer it names, judged from the rules alone.
    nebula's rules only allow, so it changes nothing, but it misleads whoever narrows the
    wider rule later."""
    yield from _lint(ctx, "rule-shadowed")


# --- policy tests ----------------------------------------------------------------------


def _policy(ctx: Context) -> policy.PolicyFile | Diagnostic | None:
    return policy.load(ctx.root)


@check("policy-schema", "inventory")
def policy_schema(ctx: Context) -> Iterator[Diagnostic]:
    """policy.yml, when there is one, must follow the policy schema.

    `cryptic-net schema policy` prints it: `tests`, each with `from`, `to` and `allow` or
    `deny` (docs/reach.md)."""
    loaded = _policy(ctx)
    if loaded is None:
        return
    if isinstance(loaded, policy.PolicyFile):
        yield from loaded.problems
    else:
        yield loaded


@check("policy-unknown-name", "inventory", needs_complete=True)
def policy_names(ctx: Context) -> Iterator[Diagnostic]:
    """Every host and `group:NAME` a policy test names must exist, or the test would check
    nothing."""
    loaded = _policy(ctx)
    if isinstance(loaded, policy.PolicyFile):
        yield from policy.name_problems(loaded, {h.name: frozenset(h.groups) for h in ctx.hosts})


@check("policy-port-range", "inventory")
def policy_ports(ctx: Context) -> Iterator[Diagnostic]:
    """A policy test's ports must be within 1-65535, a range from low to high."""
    loaded = _policy(ctx)
    if isinstance(loaded, policy.PolicyFile):
        yield from policy.port_problems(loaded)


@check("policy-failed", "inventory", needs_complete=True)
def policy_failed(ctx: Context) -> Iterator[Diagnostic]:
    """Every policy test must hold, as `reach` computes it from the firewall rules.

    What `allow` names gets through (every port of a range, from a fresh start); nothing
    `deny` names does (not even by nebula's ICMP back channel). A failing test names the
    first failing pair and the rules that decide it."""
    loaded = _policy(ctx)
    found = engine(ctx)
    if not isinstance(loaded, policy.PolicyFile) or found is None:
        return
    hosts = {n.name: n.groups for n in found.nodes}
    if loaded.problems or any(policy.name_problems(loaded, hosts)) or any(policy.port_problems(loaded)):
        return
    yield from policy.failures(loaded, found, hosts)
