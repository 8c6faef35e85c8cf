"""Every semantic check of an inventory, as a small named unit, in one ordered list.

`CHECKS` is the list (the order the modules below register them in); `run` asks each check
in turn and returns what they found. `cryptic-net checks` prints the list and
`cryptic-net explain ID` one check's docstring. Each id is also the name of a case in
`tests/bad/` (`<id>.case` or `<id>-*.case`), and a test fails when a check has none.
Adding a check is adding a function with `@check(...)` to the module of its concern (a new
concern is a new module, imported below), and its case `tests/bad/<id>.case`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from cryptic_net.checks import (
    addresses,
    certs,
    firewall,
    names,
    reach,
    revoked,
    secrets,
    topology,
    tracked,
)
from cryptic_net.checks.base import CHECKS, Check, Context, check

if TYPE_CHECKING:
    from cryptic_net.errors import Diagnostic

__all__ = ["CHECKS", "Check", "Context", "check", "find", "run"]
_MODULES = (
    names,
    addresses,
    topology,
    firewall,
    certs,
    revoked,
    secrets,
    reach,
    tracked,
)  # registration order


def find(check_id: str) -> Check | None:
    return next((c for c in CHECKS if c.id == check_id), None)


def run(ctx: Context, checks: list[Check] | None = None) -> list[Diagnostic]:
    """Every diagnostic of every check that applies; the complete-inventory ones only when
    every host file loaded."""
    found: list[Diagnostic] = []
    for one in CHECKS if checks is None else checks:
        if one.needs_complete and not ctx.complete:
            continue
        if one.scope == "host":
            produced = [d for host in ctx.hosts for d in one.func(ctx, host)]
        elif one.scope == "network":
            produced = list(one.func(ctx, ctx.network)) if ctx.network is not None else []
        else:
            produced = list(one.func(ctx))
        found.extend(dataclasses.replace(d, check=one.id) for d in produced)
    return found
