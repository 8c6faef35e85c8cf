"""Which CPU an ELF program is for: the guard that a host's programs match its `arch`.

A host's AppDir must carry programs of the host's architecture (issue 13); Nix picks them by
reading `arch:` from the host file with builtins (nix/arch.nix), and this module is the check
on the validated inventory's side that both agree. Reading 20 bytes of the ELF header needs no
library: e_ident (16 bytes, byte 5 = data encoding) then e_type (2) and e_machine (2), as
elf(5) and the System V ABI define them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

# e_machine values (elf(5), <elf.h>) of the architectures a host can declare.
MACHINES = {"x86_64": 62, "aarch64": 183}
NAMES = {62: "x86_64", 183: "aarch64", 3: "i386", 40: "arm", 243: "riscv"}

_HEADER = 20


def machine(path: Path) -> int | None:
    """e_machine of an ELF file, or None for anything else (a script, a short file)."""
    with path.open("rb") as f:
        head = f.read(_HEADER)
    if len(head) < _HEADER or head[:4] != b"\x7fELF" or head[5] not in (1, 2):
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


def wrong_arch(paths: list[Path], arch: str) -> list[str]:
    """One message per ELF file that is not for `arch`; non-ELF files (scripts) pass."""
    want = MACHINES[arch]
    problems = []
    for path in paths:
        got = machine(path)
        if got is not None and got != want:
            problems.append(f"{path}: built for {NAMES.get(got, f'ELF machine {got}')}, not {arch}")
    return problems
