"""Policy tests: `policy.yml` at the inventory root asserts who can and cannot reach whom.

    tests:
      - {from: alpha, to: beta, allow: tcp/80}
      - {from: beta, to: alpha, deny: tcp/22}
      - {from: group:laptop, to: [beta, lighthouse], allow: [icmp, tcp/8000-8100]}

`from` and `to` name hosts or `group:NAME` (every host holding that group), one or a list;
`allow` and `deny` name packets (`tcp/PORT`, `udp/PORT`, a range `tcp/FROM-TO`, or `icmp`),
one or a list. A test holds for every host of `from` towards every other host of `to`: each
`allow` packet (every port of a range) gets through, no `deny` packet (no port of a range)
does. A `deny: icmp` also fails where nebula's ICMP back channel would let ICMP through
(docs/reach.md). They run as checks (cryptic_net.checks.reach), so `validate` and every
command that validates refuse an inventory whose rules fail one, naming the rules that
decide it (tailscale's and headscale's policy `tests` are the model).

The file is read with the hardened YAML loader and checked against its own JSON schema
(schema/policy.schema.json) with jsonschema, as the other inventory files are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from cryptic_net import reach
from cryptic_net.yamlload import Document, LoadError, json_path, load_file

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from cryptic_net.errors import Diagnostic

POLICY_FILE = "policy.yml"
SCHEMA = "policy.schema.json"


def schema() -> dict[str, Any]:
    text = resources.files("cryptic_net").joinpath("schema", SCHEMA).read_text(encoding="utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


def _path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path = json_path(path, part)
    return path


def _explain(error: ValidationError) -> tuple[str, str]:
    if error.validator == "anyOf" and error.context:
        deeper = [e for e in error.context if len(e.absolute_path) > len(error.absolute_path)]
        if deeper:
            return _explain(best_match(deeper))
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if custom and error.validator in {"pattern", "anyOf"}:
        shown = isinstance(error.instance, str)
        return _path(error), f"{error.instance!r} {custom}" if shown else custom
    if error.validator == "anyOf" and error.context:
        return _explain(best_match(error.context))
    return _path(error), error.message


@dataclass
class PolicyFile:
    doc: Document
    problems: list[Diagnostic]  # YAML and schema errors; the tests run only without them

    @property
    def tests(self) -> list[dict[str, Any]]:
        return list(self.doc.data.get("tests", [])) if not self.problems else []


def load(root: Path) -> PolicyFile | Diagnostic | None:
    """policy.yml, if the inventory has one; a Diagnostic if it cannot be read as YAML."""
    path = root / POLICY_FILE
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
        from cryptic_net.errors import Diagnostic  # noqa: PLC0415

        return Diagnostic(POLICY_FILE, 1, 1, "$", f"symlink points outside the inventory ({path.resolve()})")
    try:
        doc = load_file(POLICY_FILE, path)
    except LoadError as exc:
        return exc.diagnostic
    if doc.data is None:
        doc.data = {}
    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for error in validator.iter_errors(doc.data):
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = ", ".join(sorted(error.schema.get("properties", {})))
            for key in error.instance:
                if key not in error.schema.get("properties", {}):
                    problems.append(  # noqa: PERF401 (readable as a loop)
                        doc.diag(
                            json_path(_path(error), key),
                            f"unknown key (expected one of: {allowed})",
                            key=True,
                        )
                    )
            continue
        problems.append(doc.diag(*_explain(error)))
    return PolicyFile(doc, problems)


def _listed(value: Any, at: str) -> Iterator[tuple[str, str]]:
    """(json path, item) of a value that is one item or a list of them."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield f"{at}[{i}]", str(item)
    else:
        yield at, str(value)


def name_problems(policy: PolicyFile, hosts: dict[str, frozenset[str]]) -> Iterator[Diagnostic]:
    """Hosts and groups a test names that the inventory does not have."""
    groups = {g for held in hosts.values() for g in held}
    for i, test in enumerate(policy.tests):
        for side in ("from", "to"):
            for at, target in _listed(test[side], f"$.tests[{i}].{side}"):
                if target.startswith("group:"):
                    if target.removeprefix("group:") not in groups:
                        yield policy.doc.diag(at, f"no host has group {target.removeprefix('group:')!r}")
                elif target not in hosts:
                    known = ", ".join(sorted(hosts))
                    yield policy.doc.diag(at, f"no host named {target!r} (hosts: {known})")


def port_problems(policy: PolicyFile) -> Iterator[Diagnostic]:
    """Ports outside 1-65535 and ranges from high to low (the schema checks only digits)."""
    for i, test in enumerate(policy.tests):
        for verb in ("allow", "deny"):
            for at, packet in _listed(test.get(verb, []), f"$.tests[{i}].{verb}"):
                _, _, port = packet.partition("/")
                low, _, high = port.partition("-")
                if port and not 1 <= int(low) <= int(high or low) <= reach.PORT_MAX:
                    yield policy.doc.diag(
                        at, f"{packet!r}: ports must be within 1-65535, a range from low to high"
                    )


def _expand(target: str, hosts: dict[str, frozenset[str]]) -> list[str]:
    if target.startswith("group:"):
        group = target.removeprefix("group:")
        return sorted(h for h, held in hosts.items() if group in held)
    return [target] if target in hosts else []


def _deciders(side: reach.SideVerdict, allowed: bool) -> str:
    """The rules that decide one side: those that allow it, or, when none does, all of them."""
    if allowed:
        return ", ".join(f"{loc.where} {loc.text()}" for loc in side.allowing)
    if not side.rejecting:
        return "it has no rules"
    return "no rule matches: " + "; ".join(f"{loc.where} {loc.text()}: {why}" for loc, why in side.rejecting)


def _why(verdict: reach.Verdict) -> str:
    """What decides a verdict, naming the rules (file:line), for a failed assertion."""
    if verdict.allowed:
        return (
            f"outbound on {verdict.src} allowed by {_deciders(verdict.outbound, allowed=True)}; "
            f"inbound on {verdict.dst} allowed by {_deciders(verdict.inbound, allowed=True)}"
        )
    if verdict.icmp_back_channel:
        return (
            f"no rule allows it, but once {verdict.dst} sent ICMP to {verdict.src}, nebula's conntrack lets it "  # noqa: E501 (an exact message)
            "through (ICMP is tracked without an id; docs/reach.md)"
        )
    sides = [s for s in (verdict.outbound, verdict.inbound) if not s.allowed]
    return "; ".join(f"{s.direction} on {s.host}: {_deciders(s, allowed=False)}" for s in sides)


def _first_miss(ports: reach.PortSet, low: int, high: int, *, want: bool) -> int | None:
    """The first port of low-high that is (want=False) or is not (want=True) in `ports`."""
    wanted = reach.PortSet.of([(low, high)])
    if want:
        if ports.covers(wanted):
            return None
        port = low
        for start, end in (ports & wanted).ranges:
            if start > port:
                return port
            port = end + 1
        return port if port <= high else None
    both = ports & wanted
    return both.ranges[0][0] if both.ranges else None


def failures(  # noqa: C901 (every test, verb, packet and host pair, in the user's order)
    policy: PolicyFile, engine: reach.Reach, hosts: dict[str, frozenset[str]]
) -> Iterator[Diagnostic]:
    """Assertions the firewall rules make false, each naming the rules that decide it."""
    for i, test in enumerate(policy.tests):
        sources = sorted({h for _, t in _listed(test["from"], "") for h in _expand(t, hosts)})
        targets = sorted({h for _, t in _listed(test["to"], "") for h in _expand(t, hosts)})
        for verb in ("allow", "deny"):
            want = verb == "allow"
            for at, packet in _listed(test.get(verb, []), f"$.tests[{i}].{verb}"):
                proto, _, port = packet.partition("/")
                low, _, high = port.partition("-")
                bad: list[reach.Verdict] = []
                for src in sources:
                    for dst in targets:
                        if src == dst:
                            continue
                        access = engine.access(src, dst)
                        if proto == "icmp":
                            # allow: from a fresh start; deny: not even by the ICMP back channel
                            through = access.icmp or (not want and engine.icmp_back_channel(src, dst))
                            if through != want:
                                bad.append(engine.explain(src, dst, proto, None))
                            continue
                        miss = _first_miss(access.ports(proto), int(low), int(high or low), want=want)
                        if miss is not None:
                            bad.append(engine.explain(src, dst, proto, miss))
                if bad:
                    first = bad[0]
                    more = (
                        f" (and {len(bad) - 1} more pair{'s' if len(bad) > 2 else ''})"
                        if len(bad) > 1
                        else ""
                    )
                    state = "denied" if want else "allowed"
                    yield policy.doc.diag(
                        at,
                        f"{first.src} -> {first.dst} {first.packet} is {state}{more}: {_why(first)}",
                    )
