"""nebula-cert, the only tool that reads nebula certificates, wrapped for every version we meet.

Debian 12 ships nebula 1.6 and Debian 13 1.9 (what the tests run); nixpkgs has 1.10 (what the
flake bundles). Their `print -json` differ: up to 1.9 it prints one object with `details.ips`;
1.10 and later print a list, with `details.networks` and `version` (and, for version-2
certificates, `curve` and `publicKey` outside `details`). `cert_info` reads all of them into
one shape; tests/unit/test_robustness.py holds real output of 1.6 and 1.11.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptic_net.errors import UserError

if TYPE_CHECKING:
    from pathlib import Path

TIMEOUT = 20


@dataclass(frozen=True)
class CertInfo:
    name: str
    networks: tuple[str, ...]
    groups: tuple[str, ...]
    is_ca: bool
    issuer: str
    fingerprint: str
    not_before: datetime
    not_after: datetime
    public_key: str = ""  # hex
    curve: str = "CURVE25519"

    def public_key_pem(self) -> bytes:
        """The certificate's public key as `nebula-cert sign -in-pub` reads it."""
        banner = "X25519" if self.curve == "CURVE25519" else self.curve
        body = base64.b64encode(bytes.fromhex(self.public_key)).decode()
        pem = (
            f"-----BEGIN NEBULA {banner} PUBLIC KEY-----\n{body}\n-----END NEBULA {banner} PUBLIC KEY-----\n"
        )
        return pem.encode()


class CertError(Exception):
    """nebula-cert refused a file; the message is its reason, made one line."""


def nebula_cert() -> str:
    found = shutil.which("nebula-cert")
    if found is None:
        raise UserError(
            "nebula-cert is not on PATH: install nebula (Debian: apt install nebula) or use `nix develop`"
        )
    return found


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [nebula_cert(), *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise UserError(f"nebula-cert {args[0]} did not finish within {TIMEOUT} s") from None


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    # nebula-cert ends a failure with its usage text; the reason is the first line.
    return lines[0].removeprefix("Error: ") if lines else "nebula-cert failed"


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def parse_print_json(text: str) -> CertInfo:
    """Read `nebula-cert print -json` output of nebula 1.6 or 1.10 (first certificate)."""
    raw, _ = json.JSONDecoder().raw_decode(text.strip())
    doc: Any = raw[0] if isinstance(raw, list) and raw else raw
    details = doc["details"]
    networks = details.get("networks", details.get("ips")) or []
    return CertInfo(
        name=details["name"],
        networks=tuple(str(n) for n in networks),
        groups=tuple(details.get("groups") or ()),
        is_ca=bool(details.get("isCa", False)),
        issuer=details.get("issuer") or "",
        fingerprint=doc["fingerprint"],
        not_before=_parse_time(details["notBefore"]),
        not_after=_parse_time(details["notAfter"]),
        # Inside `details` up to version-1 certificates, beside it for version 2 (1.10+).
        public_key=details.get("publicKey") or doc.get("publicKey") or "",
        curve=details.get("curve") or doc.get("curve") or "CURVE25519",
    )


def cert_info(path: Path) -> CertInfo:
    result = _run(["print", "-json", "-path", str(path)])
    if result.returncode != 0:
        raise CertError(_one_line(result.stderr or result.stdout))
    try:
        return parse_print_json(result.stdout)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise CertError(f"unexpected nebula-cert output ({exc})") from None


def verify(ca: Path, crt: Path) -> str | None:
    """None when `crt` is signed by `ca` and valid now, else nebula-cert's reason."""
    result = _run(["verify", "-ca", str(ca), "-crt", str(crt)])
    if result.returncode == 0:
        return None
    return _one_line(result.stderr or result.stdout)


@functools.cache
def _version_flag(command: str) -> list[str]:
    # nebula-cert 1.10 makes v2 certificates by default, which nebula 1.6 cannot read; its
    # `-version 1` asks for v1. 1.6 has no such flag (it only makes v1).
    help_text = _run([command, "-h"])
    return ["-version", "1"] if "-version" in help_text.stdout + help_text.stderr else []


def make_ca(name: str, duration: str, out_crt: Path, out_key: Path) -> None:
    args = ["ca", *_version_flag("ca"), "-name", name, "-duration", duration]
    result = _run([*args, "-out-crt", str(out_crt), "-out-key", str(out_key)])
    if result.returncode != 0:
        raise UserError(f"nebula-cert ca: {_one_line(result.stderr or result.stdout)}")


def sign(  # noqa: PLR0913, PLR0917 (mirrors nebula-cert sign's flags)
    ca_crt: Path,
    ca_key: Path,
    name: str,
    ip_prefix: str,
    groups: list[str],
    out_crt: Path,
    *,
    out_key: Path | None = None,
    in_pub: Path | None = None,
    duration: str | None = None,
) -> None:
    """Sign a certificate for a new key pair (`out_key`) or an existing public key (`in_pub`)."""
    args = ["sign", *_version_flag("sign"), "-ca-crt", str(ca_crt), "-ca-key", str(ca_key)]
    args += ["-name", name, "-ip", ip_prefix, "-out-crt", str(out_crt)]
    args += ["-in-pub", str(in_pub)] if in_pub is not None else ["-out-key", str(out_key)]
    if groups:
        args += ["-groups", ",".join(groups)]
    if duration:
        args += ["-duration", duration]
    result = _run(args)
    if result.returncode != 0:
        raise UserError(f"nebula-cert sign: {_one_line(result.stderr or result.stdout)}")
