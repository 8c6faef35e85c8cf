"""The bad-input corpus: tests/bad/*.case, one hostile or mistaken input per file.

A case file starts with header lines, then the content written to its target:
  # target: PATH        file of the example inventory to replace or create
  # expect: LINE        one expected stderr line (all of them, in order)
  # symlink: DEST       make the target a symlink to DEST instead of writing content
  # repeat: N           write the content N times (large files)
  # why: TEXT           why the expected message changed (it improved); free text
  # now: ISO-8601       validate as if it were then (runs in-process, not through the CLI)
`{CA_KEY_BANNER}` in the content stands for the banner of a nebula CA private key, which is
never written literally in this repository.
Every case must exit 2 with exactly the expected located lines, print no traceback, and write
nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from cryptic_net import cli as cli_module
from cryptic_net.errors import ValidationFailed
from cryptic_net.inventory import load_inventory
from tests.conftest import cli, copy_inventory

CORPUS = Path(__file__).resolve().parent.parent / "bad"
CA_KEY_BANNER = "-----BEGIN NEBULA " + "ED25519 PRIVATE KEY-----"
HEADER = re.compile(rb"^# (target|expect|symlink|repeat|why|now): ?(.*)$")


@dataclass
class Case:
    target: str = ""
    expect: list[str] = field(default_factory=list)
    symlink: str | None = None
    repeat: int = 1
    content: bytes = b""
    why: str = ""
    now: str = ""


def parse(path: Path) -> Case:
    case = Case()
    lines = path.read_bytes().splitlines(keepends=True)
    body = 0
    for body, line in enumerate(lines):  # noqa: B007 (body is the first content line)
        match = HEADER.match(line.rstrip(b"\n"))
        if not match:
            break
        key, value = match.group(1).decode(), match.group(2).decode()
        if key == "expect":
            case.expect.append(value)
        elif key == "repeat":
            case.repeat = int(value)
        elif key == "why":
            case.why += value
        else:
            setattr(case, key, value)
    else:
        body = len(lines)
    case.content = b"".join(lines[body:]).replace(b"{CA_KEY_BANNER}", CA_KEY_BANNER.encode())
    return case


def apply(case: Case, root: Path) -> None:
    target = root / case.target
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    if case.symlink is not None:
        target.symlink_to(case.symlink)
    else:
        target.write_bytes(case.content * case.repeat)


CASES = sorted(CORPUS.glob("*.case"))


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40


def expected_now(case: Case, root: Path) -> list[str]:
    """What validation at the case's `now` reports: errors, or else warnings."""
    try:
        inv = load_inventory(root, now=datetime.fromisoformat(case.now))
    except ValidationFailed as exc:
        return [str(d) for d in exc.diagnostics]
    return [str(w) for w in inv.warnings]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_input(path: Path, tmp_path: Path) -> None:
    """Through the installed command, as a user runs it (libyaml where PyYAML has it)."""
    case = parse(path)
    assert case.target, f"{path.name}: no '# target:' header"
    assert case.expect, f"{path.name}: no '# expect:' header"
    root = copy_inventory(tmp_path / "inv")
    apply(case, root)
    if case.now:
        assert expected_now(case, root) == case.expect
        return
    out = tmp_path / "out"
    result = cli("render", "alpha", "--root", root, "--out", out)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert re.fullmatch(r"\d+ errors?", lines[-1]), lines
    assert lines[:-1] == case.expect
    assert not out.exists()
    assert not any(p.name.startswith(".out") for p in tmp_path.iterdir())


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_input_pure_python_yaml(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same corpus through PyYAML's pure-Python parser (the fallback), in-process."""
    monkeypatch.setenv("CRYPTIC_NET_YAML", "pure")
    calls: list[str] = []
    real = yaml.SafeLoader.__init__

    def spy(self: yaml.SafeLoader, stream: str) -> None:
        calls.append(type(self).__name__)
        real(self, stream)

    monkeypatch.setattr(yaml.SafeLoader, "__init__", spy)
    case = parse(path)
    root = copy_inventory(tmp_path / "inv")
    apply(case, root)
    if case.now:
        assert expected_now(case, root) == case.expect
        return
    out = tmp_path / "out"
    assert cli_module.main(["render", "alpha", "--root", str(root), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[:-1] == case.expect
    assert not out.exists()
    if case.target.endswith(".yml") and case.symlink is None and calls:
        assert set(calls) == {"SafeLoader"}


def test_libyaml_is_used_where_installed() -> None:
    from cryptic_net import yamlload  # noqa: PLC0415

    if yaml.__with_libyaml__:
        assert yamlload.loader_class() is yaml.CSafeLoader
    else:  # pragma: no cover (PyYAML without libyaml: the fallback is the only parser)
        assert yamlload.loader_class() is yaml.SafeLoader


def test_pure_python_yaml_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptic_net import yamlload  # noqa: PLC0415

    monkeypatch.setenv("CRYPTIC_NET_YAML", "pure")
    assert yamlload.loader_class() is yaml.SafeLoader
    doc = yamlload.load_text("x.yml", "a: [1, {b: c}]\n")
    assert (doc.data, doc.where("$.a[1].b")) == ({"a": [1, {"b": "c"}]}, (1, 12))
