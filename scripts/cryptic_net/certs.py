"""Nebula certificates for the rest of the tool: read and verified in-process, signed by nebula-cert.

Reading and verifying (`read_certs`, `cert_info`, `verify`) use `cryptic_net.nebcert`, which
knows both formats (version 1 of nebula 1.6-1.10, version 2 of 1.10 and later), both curves and
PEM bundles, and says why it is built as it is. No process is started: at 1,000 hosts the two
`nebula-cert` runs per host were most of `validate`'s time. Signing (`make_ca`, `sign`) still
runs `nebula-cert`, which owns the private keys' formats; tests/unit/test_certs_differential.py
holds the reader to `nebula-cert print -json` and `nebula-cert verify` of every version at hand.
"""

from __future__ import annotations

import base64
import functools
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptic_net import nebcert
from cryptic_net.errors import UserError
from cryptic_net.nebcert import CertError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["CertError", "CertInfo", "cert_info", "make_ca", "read_certs", "sign", "verify"]

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
    version: int = 1
    unsafe_networks: tuple[str, ...] = ()

    def public_key_pem(self) -> bytes:
        """The certificate's public key as `nebula-cert sign -in-pub` reads it (X25519 or P256)."""
        banner = "X25519" if self.curve == "CURVE25519" else self.curve
        body = base64.b64encode(bytes.fromhex(self.public_key)).decode()
        pem = (
            f"-----BEGIN NEBULA {banner} PUBLIC KEY-----\n{body}\n-----END NEBULA {banner} PUBLIC KEY-----\n"
        )
        return pem.encode()


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


def _time(seconds: int) -> datetime:
    # nebula keeps any int64; a datetime stops at years 1 and 9999, far enough either way.
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.max.replace(tzinfo=UTC) if seconds > 0 else datetime.min.replace(tzinfo=UTC)


def _info(cert: nebcert.Certificate) -> CertInfo:
    return CertInfo(
        name=cert.name,
        networks=tuple(map(str, cert.networks)),
        groups=cert.groups,
        is_ca=cert.is_ca,
        issuer=cert.issuer,
        fingerprint=cert.fingerprint,
        not_before=_time(cert.not_before),
        not_after=_time(cert.not_after),
        public_key=cert.public_key.hex(),
        curve=cert.curve_name,
        version=cert.version,
        unsafe_networks=tuple(map(str, cert.unsafe_networks)),
    )


def _read_bytes(path: Path) -> bytes:
    # In chunks, up to one byte past the limit (read_pem then says it is too large): a FIFO or
    # /dev/zero named as a certificate must not read forever, and f.read(4 MiB) would allocate
    # 4 MiB for every small certificate.
    chunks: list[bytes] = []
    size = 0
    try:
        with path.open("rb") as f:
            while size <= nebcert.MAX_PEM_SIZE:
                chunk = f.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except OSError as exc:
        raise CertError(f"unable to read cert: {exc.strerror or exc}") from None
    return b"".join(chunks)


@functools.lru_cache(maxsize=8192)
def _parse(data: bytes) -> tuple[nebcert.Certificate, ...]:
    # validate reads each host certificate twice (cert_info, then verify): parse it once.
    return nebcert.read_pem(data)


def _read(path: Path) -> tuple[nebcert.Certificate, ...]:
    return _parse(_read_bytes(path))


def read_certs(path: Path) -> tuple[CertInfo, ...]:
    """Every certificate of a PEM file (a CA bundle holds several); CertError if any is bad."""
    try:
        return tuple(_info(c) for c in _read(path))
    except CertError as exc:
        # nebula-cert print's words, which tests/bad/cert-not-a-cert.case shows the user.
        raise CertError(f"error while unmarshaling cert: {exc}") from None


def cert_info(path: Path) -> CertInfo:
    """The first certificate of a PEM file (every block of the file must be a good certificate)."""
    return read_certs(path)[0]


@functools.lru_cache(maxsize=8)
def _pool(data: bytes) -> nebcert.CAPool:
    # One network CA checks a thousand hosts: read it and check its self-signature once.
    return nebcert.CAPool(nebcert.read_pem(data))


def verify(ca: Path, crt: Path, now: datetime | None = None) -> str | None:
    """None when every certificate in `crt` is valid at `now` (default: now) under the CA bundle `ca`.

    As nebula's CA pool: the issuer fingerprint picks the CA among those in `ca`; curve, validity
    of both, signature, and the CA's limits on validity, groups and networks are checked.
    """
    try:
        pool = _pool(_read_bytes(ca))
    except CertError as exc:
        return f"error while adding ca cert to pool: {exc}"
    try:
        certificates = _read(crt)
    except CertError as exc:
        return f"error while parsing crt: {exc}"
    at = now.timestamp() if now is not None else time.time()
    for index, cert in enumerate(certificates):
        try:
            pool.verify(cert, at)
        except CertError as exc:
            where = f"certificate {index + 1} ({cert.name}): " if len(certificates) > 1 else ""
            return f"{where}{exc}"
    return None


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
