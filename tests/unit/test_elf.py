"""cryptic_net.elf: the ELF machine of a program, on real binaries and on hostile files."""

from __future__ import annotations

import platform
import shutil
import sys
from pathlib import Path

import pytest

from cryptic_net import elf
from tests.conftest import cli


def header(machine: int, *, little: bool = True) -> bytes:
    order = "little" if little else "big"
    ident = b"\x7fELF" + bytes([2, 1 if little else 2, 1]) + bytes(9)
    return ident + (2).to_bytes(2, order) + machine.to_bytes(2, order) + bytes(44)


def test_this_machines_python_is_of_this_machines_arch() -> None:
    python = Path(sys.executable).resolve()
    arch = {"x86_64": "x86_64", "aarch64": "aarch64"}.get(platform.machine())
    if arch is None:
        pytest.skip("neither x86_64 nor aarch64")
    assert elf.machine(python) == elf.MACHINES[arch]
    assert elf.wrong_arch([python], arch) == []


@pytest.mark.parametrize(("machine", "little"), [(62, True), (183, True), (183, False)])
def test_machine_from_the_header(tmp_path: Path, machine: int, little: bool) -> None:
    f = tmp_path / "prog"
    f.write_bytes(header(machine, little=little))
    assert elf.machine(f) == machine


@pytest.mark.parametrize(
    "data", [b"", b"\x7fELF", b"#!/bin/sh\necho hi\n" * 3, b"\x7fELF\x02\x07" + bytes(20)]
)
def test_not_elf_is_none(tmp_path: Path, data: bytes) -> None:
    f = tmp_path / "prog"
    f.write_bytes(data)
    assert elf.machine(f) is None


def test_wrong_arch_names_the_file_and_both_architectures(tmp_path: Path) -> None:
    x86 = tmp_path / "nebula"
    x86.write_bytes(header(62))
    arm = tmp_path / "dnsmasq"
    arm.write_bytes(header(183))
    script = tmp_path / "pmux"
    script.write_text("#!/usr/bin/python3\n")
    assert elf.wrong_arch([x86, arm, script], "aarch64") == [f"{x86}: built for x86_64, not aarch64"]
    assert elf.wrong_arch([x86, arm, script], "x86_64") == [f"{arm}: built for aarch64, not x86_64"]
    riscv = tmp_path / "other"
    riscv.write_bytes(header(999))
    assert elf.wrong_arch([riscv], "x86_64") == [f"{riscv}: built for ELF machine 999, not x86_64"]


def test_a_real_program_if_there_is_one() -> None:
    found = shutil.which("ls")
    assert found is not None
    assert elf.machine(Path(found).resolve()) in elf.MACHINES.values()


def fake_bin(d: Path, machine: int) -> Path:
    """nebula, nebula-cert, dnsmasq as ELF headers of `machine`; pmux a script (as the stand-in)."""
    d.mkdir()
    for name in ("nebula", "nebula-cert", "dnsmasq"):
        (d / name).write_bytes(header(machine))
        (d / name).chmod(0o755)
    (d / "pmux").write_text("#!/bin/sh\n")
    (d / "pmux").chmod(0o755)
    return d


def test_appdir_refuses_programs_of_another_architecture(inventory: Path, tmp_path: Path) -> None:
    arm = fake_bin(tmp_path / "arm", elf.MACHINES["aarch64"])
    out = tmp_path / "out"
    result = cli("appdir", "beta", "--root", inventory, "--bin-dir", arm, "--out", out)
    assert result.returncode == 2, result.stderr
    wrong = "; ".join(
        f"{arm / name}: built for aarch64, not x86_64" for name in ("nebula", "nebula-cert", "dnsmasq")
    )
    assert result.stderr.strip().endswith(f"host beta is x86_64 (`arch` in hosts/beta.yml), but {wrong}")
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_appdir_takes_programs_of_the_hosts_architecture(inventory: Path, tmp_path: Path) -> None:
    host_file = inventory / "hosts" / "beta.yml"
    host_file.write_text(host_file.read_text() + "arch: aarch64\n")
    arm = fake_bin(tmp_path / "arm", elf.MACHINES["aarch64"])
    out = tmp_path / "out"
    result = cli("appdir", "beta", "--root", inventory, "--bin-dir", arm, "--out", out)
    assert result.returncode == 0, result.stderr
    assert elf.machine(out / "bin" / "nebula") == elf.MACHINES["aarch64"]
