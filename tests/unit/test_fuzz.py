"""In-process fuzzing of the validator (issue 11): mutated example inventories never crash it.

Each case takes the example inventory, mutates network.yml or a host file, structurally (a key
dropped, a value replaced by a hostile one: other types, control characters, 300-character and
NUL-holding paths, huge numbers) or byte by byte (flipped, inserted, deleted, truncated), and
validates it in-process. Any exception other than UserError (exit 2 with a message) fails the
test with the seed that reproduces it. CI runs FUZZ_CASES (2,000) cases; more on demand:

    CRYPTIC_NET_FUZZ_CASES=100000 tests/run tests/unit/test_fuzz.py
    CRYPTIC_NET_FUZZ_SEED=1234 ...   # start from another seed
"""

from __future__ import annotations

import os
import random
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from cryptic_net.errors import ValidationFailed
from cryptic_net.inventory import load_inventory
from tests.conftest import copy_inventory

if TYPE_CHECKING:
    from pathlib import Path

FUZZ_CASES = int(os.environ.get("CRYPTIC_NET_FUZZ_CASES", "2000"))
FIRST_SEED = int(os.environ.get("CRYPTIC_NET_FUZZ_SEED", "0"))
TARGETS = ("network.yml", "hosts/alpha.yml", "hosts/beta.yml", "hosts/lighthouse.yml")
NOW = datetime(2030, 1, 1, tzinfo=UTC)

HOSTILE: list[Any] = [
    None,
    True,
    0,
    -1,
    65536,
    2**64,
    1.5e308,
    "",
    "a" * 300,
    "\x00",
    "x\n",
    "alpha\n",
    "fe80::1%lo\nhost-record=alpha.example.internal,10.42.0.66",
    "../../etc/passwd",
    "/etc/hostname",
    "ca.crt",
    "hosts/alpha.key",
    "alpha.crt",
    "10.42.0.300",
    "10.42.0.0/33",
    "\u2028",
    "\x85",
    "any",
    "192.0.2.1:99999",
    "[::1]:4242",
    ["x"],
    {"k": "v"},
    [],
    {},
]


def mutate_structure(rng: random.Random, data: Any) -> Any:
    """One random change somewhere in the tree."""
    if not isinstance(data, (dict, list)) or not data or rng.random() < 0.2:
        return rng.choice(HOSTILE)
    if isinstance(data, dict):
        key = rng.choice(list(data))
        roll = rng.random()
        if roll < 0.15:
            return {k: v for k, v in data.items() if k != key}
        if roll < 0.25:
            return {
                **data,
                rng.choice(["bogus", "ip", "cert", "ca", "key", "aliases", "arch"]): rng.choice(HOSTILE),
            }
        return {**data, key: mutate_structure(rng, data[key])}
    i = rng.randrange(len(data))
    if rng.random() < 0.2:
        return [*data, data[i]]
    return [*data[:i], mutate_structure(rng, data[i]), *data[i + 1 :]]


def mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    buf = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        at = rng.randrange(len(buf) + 1)
        if roll < 0.3 and buf:
            buf[min(at, len(buf) - 1)] = rng.randrange(256)
        elif roll < 0.6:
            buf[at:at] = bytes(
                rng.choice(
                    [
                        b"\x00",
                        b"\n",
                        b"\r",
                        b"\t",
                        b":",
                        b"- ",
                        b"&a",
                        b"*a",
                        b"!!",
                        b"{",
                        b"[",
                        b"'",
                        b'"',
                        b"\xc3",
                        b"\xe2\x80\xa8",
                    ]
                )
            )
        elif roll < 0.8:
            del buf[at : at + rng.randint(1, 8)]
        else:
            del buf[at:]
    return bytes(buf)


LOCATED = re.compile(r"[^:\n]+:\d+:\d+: (warning: )?\$.*: .+")


def validate(root: Path) -> str | None:
    """None when valid, else the report (ValidationFailed lists one located line per problem)."""
    try:
        load_inventory(root, now=NOW)
    except ValidationFailed as exc:
        return str(exc)
    return None


def test_fuzz_the_validator(tmp_path: Path) -> None:
    root = copy_inventory(tmp_path / "inv")
    originals = {t: (root / t).read_bytes() for t in TARGETS}
    outcomes = {"valid": 0, "refused": 0}
    for seed in range(FIRST_SEED, FIRST_SEED + FUZZ_CASES):
        rng = random.Random(seed)  # noqa: S311 (reproducible test input, not cryptography)
        target = rng.choice(TARGETS)
        if rng.random() < 0.6:
            data = yaml.safe_load(originals[target])
            text = yaml.safe_dump(mutate_structure(rng, data), allow_unicode=rng.random() < 0.5)
            (root / target).write_text(text, encoding="utf-8", errors="surrogatepass")
        else:
            (root / target).write_bytes(mutate_bytes(rng, originals[target]))
        try:
            outcome = validate(root)
        except Exception as exc:  # noqa: BLE001 (any other exception is the bug this test looks for)
            pytest.fail(f"seed {seed} ({target}): {type(exc).__name__}: {exc}")
        finally:
            (root / target).write_bytes(originals[target])
        outcomes["valid" if outcome is None else "refused"] += 1
        # One located message per line: no value may break a line of the report.
        bad = [line for line in (outcome or "").splitlines() if not LOCATED.match(line)]
        assert not bad, f"seed {seed} ({target}): {bad}"
    # The mutations are neither all harmless nor all fatal: both outcomes occur.
    assert outcomes["valid"] > 0
    assert outcomes["refused"] > FUZZ_CASES // 2
