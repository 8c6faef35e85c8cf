"""The checks as units: each has a case in tests/bad, a docstring, and the CLI lists and explains them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cryptic_net import checks, cli
from tests.conftest import copy_inventory

CORPUS = Path(__file__).resolve().parent.parent / "bad"
# Checks no case file can reach, each with the reason and the unit test that covers it instead.
NO_CASE = {
    # nebula-cert refuses to sign past its CA's end: tests/unit/test_rules.py fakes the reader.
    "cert-outlives-ca": "test_rules.py::test_certificate_outliving_the_ca",
    # A warning that needs a git work tree; the corpus copies the inventory into a plain directory.
    "inventory-untracked": "test_tooling.py::test_validate_warns_about_untracked_files",
}


def cases_of(check_id: str) -> list[Path]:
    return sorted([*CORPUS.glob(f"{check_id}.case"), *CORPUS.glob(f"{check_id}-*.case")])


@pytest.mark.parametrize("one", checks.CHECKS, ids=[c.id for c in checks.CHECKS])
def test_every_check_has_a_case_and_a_docstring(one: checks.Check) -> None:
    assert one.id in NO_CASE or cases_of(one.id), f"no tests/bad/{one.id}.case"
    assert len(one.doc) > 40, f"{one.id}: say what it finds and why"
    assert one.summary


def test_ids_are_unique() -> None:
    ids = [c.id for c in checks.CHECKS]
    assert len(ids) == len(set(ids))


def test_checks_command_lists_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["checks"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == [c.id for c in checks.CHECKS]


def test_explain_prints_the_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "rule-host-any-with-group"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("rule-host-any-with-group (firewall, once per inventory)\n")
    assert "https://github.com/slackhq/nebula/issues/1511" in out


def test_explain_unknown_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "nope"]) == 2
    assert "no check named 'nope'" in capsys.readouterr().err


def test_validate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_inventory(tmp_path / "inv")
    assert cli.main(["validate", "--format", "json", "--root", str(root)]) == 0
    assert json.loads(capsys.readouterr().out) == {"diagnostics": [], "errors": 0, "ok": True, "warnings": 0}
    (root / "hosts" / "beta.yml").write_text("ip: 10.42.0.2\ngroups: [server]\nkey: {file: beta.key}\n")
    assert cli.main(["validate", "--format", "json", "--root", str(root)]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert doc["errors"] == 2
    assert doc["diagnostics"][0] == {
        "file": "hosts/beta.yml",
        "line": 1,
        "col": 5,
        "path": "$.ip",
        "message": "10.42.0.2 is already used by alpha (hosts/alpha.yml:2:5)",
        "severity": "error",
        "check": "ip-duplicate",
    }


def test_a_schema_error_hides_nothing_else(tmp_path: Path) -> None:
    """Issue 12: six bad rules gave 2 errors, then 4 more; a bad alias hid its clashes."""
    root = copy_inventory(tmp_path / "inv")
    (root / "hosts" / "alpha.yml").write_text(
        "ip: 10.42.0.2\ngroups: [laptop, admin]\nkey: {file: alpha.key}\nrelays: [lighthouse]\n"
        "aliases: [www, BAD]\n"
        "firewall:\n  inbound:\n"
        "    - {port: ssh, proto: tcp, group: admin}\n"
        "    - {port: 90-80, proto: tcp, group: admin}\n"
        "    - {port: 22, proto: tcp, group: nobody}\n"
        "    - {port: 22, proto: tcp}\n"
        "    - {port: 22, proto: sctp, group: admin}\n"
        "    - {port: 22, proto: tcp, cidr: 10.0.0.1/8}\n"
    )
    from cryptic_net.errors import ValidationFailed  # noqa: PLC0415
    from cryptic_net.inventory import load_inventory  # noqa: PLC0415

    with pytest.raises(ValidationFailed) as caught:
        load_inventory(root)
    got = [str(d) for d in caught.value.diagnostics]
    assert got == [
        (
            "hosts/alpha.yml:5:16: $.aliases[1]: 'BAD' is not a host name: lowercase letters, digits and "
            "hyphens, starting with a letter"
        ),
        (
            "hosts/alpha.yml:8:14: $.firewall.inbound[0].port: 'ssh' is not a port (1-65535), a range "
            "'from-to', 'any' or 'fragment'"
        ),
        (
            "hosts/alpha.yml:9:14: $.firewall.inbound[1].port: '90-80' is not a range from low to high "
            "within 1-65535"
        ),
        "hosts/alpha.yml:10:37: $.firewall.inbound[2].group: group 'nobody' is not on any host",
        (
            "hosts/alpha.yml:11:7: $.firewall.inbound[3]: a rule needs one of: host, group, groups, cidr, "
            "ca_name, ca_sha"
        ),
        (
            "hosts/alpha.yml:12:25: $.firewall.inbound[4].proto: 'sctp' is not one of "
            "['any', 'tcp', 'udp', 'icmp']"
        ),
        (
            "hosts/alpha.yml:13:36: $.firewall.inbound[5].cidr: not an IPv4 network: "
            "10.0.0.1/8 has host bits set"
        ),
        # The alias that failed the schema is left out; the valid one still meets its clash.
        "hosts/beta.yml:4:11: $.aliases[0]: 'www' is already an alias of alpha",
    ]


def test_ignore_warnings_never_silences_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ignore_warnings` drops the named checks' warnings only: an error of the same id shows."""
    root = copy_inventory(tmp_path / "inv")
    network = root / "network.yml"
    network.write_text(network.read_text().replace("[key-baked]", "[key-baked, ip-duplicate]"))
    (root / "hosts" / "beta.yml").write_text("ip: 10.42.0.2\ngroups: [server]\nkey: {file: beta.key}\n")
    assert cli.main(["validate", "--format", "json", "--root", str(root)]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert [d["check"] for d in doc["diagnostics"]].count("ip-duplicate") == 1
    assert not any(d["check"] == "key-baked" for d in doc["diagnostics"])
    network.write_text(network.read_text().replace("[key-baked, ip-duplicate]", "[]"))
    assert cli.main(["validate", "--format", "json", "--root", str(root)]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert sum(d["check"] == "key-baked" for d in doc["diagnostics"]) == 3
