"""Random documents never crash the validator; schemas are valid; nebula-cert JSON of 1.6 and 1.10."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from cryptic_net import cli
from cryptic_net.inventory import schema_text
from tests.conftest import REPO, copy_inventory
from tests.unit.nebula_oracle import parse_print_json

if TYPE_CHECKING:
    from pathlib import Path

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["10.42.0.9", "any", "tcp", "laptop", "lighthouse", "0.0.0.0/0", "-1"]),
)
keys = st.one_of(
    st.sampled_from(
        [
            "ip",
            "groups",
            "lighthouse",
            "endpoints",
            "firewall",
            "inbound",
            "port",
            "proto",
            "group",
            "host",
            "key",
            "file",
            "path",
            "relays",
            "relay",
            "aliases",
            "name",
            "cidr",
            "ca",
            "defaults",
        ]
    ),
    st.text(max_size=10),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def shared_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_inventory(tmp_path_factory.mktemp("fuzz") / "inv")


def run_validate(root: Path, target: str, data: bytes) -> int:
    path = root / target
    original = path.read_bytes()
    path.write_bytes(data)
    try:
        return cli.main(["validate", "--root", str(root)])
    finally:
        path.write_bytes(original)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents, target=st.sampled_from(["hosts/alpha.yml", "network.yml"]))
def test_random_documents_exit_0_or_2(shared_inventory: Path, doc: Any, target: str) -> None:
    text = yaml.safe_dump(doc, allow_unicode=True)
    assert run_validate(shared_inventory, target, text.encode()) in {0, 2}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_random_bytes_exit_2(shared_inventory: Path, data: bytes) -> None:
    assert run_validate(shared_inventory, "hosts/alpha.yml", data) == 2


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.integers(0, 9), junk=st.text(max_size=20))
def test_mutated_example_exit_0_or_2(shared_inventory: Path, line: int, junk: str) -> None:
    lines = (shared_inventory / "hosts/alpha.yml").read_text().splitlines(keepends=True)
    lines.insert(min(line, len(lines)), junk + "\n")
    assert run_validate(
        shared_inventory, "hosts/alpha.yml", "".join(lines).encode("utf-8", "surrogatepass")
    ) in {0, 2}


@pytest.mark.parametrize("name", ["network.schema.json", "host.schema.json"])
def test_schemas_are_valid_draft_2020_12(name: str) -> None:
    schema = json.loads(schema_text(name))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "object" else []
        return found + [o for v in node.values() for o in _objects(v)]
    if isinstance(node, list):
        return [o for v in node for o in _objects(v)]
    return []


@pytest.mark.parametrize("name", ["network.schema.json", "host.schema.json"])
def test_every_object_forbids_unknown_keys(name: str) -> None:
    objects = _objects(json.loads(schema_text(name)))
    assert objects
    assert all(o.get("additionalProperties") is False for o in objects)


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema", "host"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "cryptic-net host (hosts/<name>.yml)"


NEBULA_16 = (
    '{"details":{"groups":["laptop","admin"],"ips":["10.42.0.2/24"],"isCa":false,"issuer":"55d6","name":"alpha",'
    '"notAfter":"2036-11-23T01:14:38Z","notBefore":"2026-11-26T01:14:38Z","publicKey":"9ef6","subnets":[]},'
    '"fingerprint":"0fe9","signature":"049d"}\n'
)
# Printed by nebula-cert 1.11.0 (Debian sid) for hosts/alpha.crt: a list, `networks`, `version`.
NEBULA_111 = (
    '[{"details":{"curve":"CURVE25519","groups":["laptop","admin"],"isCa":false,"issuer":"55d6","name":"alpha",'
    '"networks":["10.42.0.2/24"],"notAfter":"2036-11-23T01:14:38Z","notBefore":"2026-11-26T01:14:38Z",'
    '"publicKey":"9ef6","unsafeNetworks":[]},"fingerprint":"0fe9","signature":"049d","version":1}]\n'
)
# The same tool's shape for a version-2 certificate: curve and publicKey move out of details.
NEBULA_111_V2 = (
    '[{"curve":"CURVE25519","details":{"groups":["laptop","admin"],"isCa":false,"issuer":"55d6","name":"alpha",'
    '"networks":["10.42.0.2/24"],"notAfter":"2036-11-23T01:14:38Z","notBefore":"2026-11-26T01:14:38Z",'
    '"unsafeNetworks":null},"fingerprint":"0fe9","publicKey":"9ef6","signature":"049d","version":2}]\n'
)


@pytest.mark.parametrize(
    "text", [NEBULA_16, NEBULA_111, NEBULA_111_V2], ids=["nebula-1.6", "nebula-1.11-v1", "nebula-1.11-v2"]
)
def test_print_json_of_both_nebula_versions(text: str) -> None:
    # The differential certificate test (test_certs_differential.py) reads nebula-cert through this.
    [info] = parse_print_json(text)
    assert (info["name"], info["networks"], info["groups"], info["isCa"]) == (
        "alpha",
        ["10.42.0.2/24"],
        ["laptop", "admin"],
        False,
    )
    assert (info["issuer"], info["fingerprint"], info["publicKey"]) == ("55d6", "0fe9", "9ef6")
    assert info["notAfter"] == 2111015678  # 2036-11-23T01:14:38Z
    assert info["unsafeNetworks"] == []
    assert info["curve"] == (None if "version" not in text else "CURVE25519")


def test_print_json_of_a_bundle() -> None:
    # 1.6 prints one object per line, 1.10+ one list: both give every certificate.
    assert [c["name"] for c in parse_print_json(NEBULA_16 + NEBULA_16)] == ["alpha", "alpha"]
    assert len(parse_print_json(NEBULA_111.replace("}]", "},") + NEBULA_111[1:])) == 2


def test_a_reader_that_goes_away_gets_no_traceback() -> None:
    """`cryptic-net reach --json | head -1`: the pipe closes under the writer."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "cryptic_net", "reach", "--root", str(REPO), "--json"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr
