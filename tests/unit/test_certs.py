"""certs and nebcert without any nebula-cert: sample certificates, hostile input, verify's rules."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptic_net import certs, nebcert
from tests.conftest import REPO
from tests.unit.nebula_oracle import parse_print_json

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SAMPLES = REPO / "tests" / "certs"
NAMES = ["ca-v2", "host-v2", "ca-p256-v1", "host-p256-v1", "bundle"]
# Inside every sample's validity (2026-11-28 to 2036-11-25).
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def printed() -> dict[str, list[dict[str, object]]]:
    lines = (SAMPLES / "print.json").read_text().splitlines()
    return {name: parse_print_json(line) for name, line in zip(NAMES, lines, strict=True)}


@pytest.mark.parametrize("name", NAMES)
def test_samples_read_as_nebula_cert_printed_them(name: str) -> None:
    got = [
        {
            "version": i.version,
            "name": i.name,
            "networks": list(i.networks),
            "unsafeNetworks": list(i.unsafe_networks),
            "groups": list(i.groups),
            "isCa": i.is_ca,
            "issuer": i.issuer,
            "notBefore": int(i.not_before.timestamp()),
            "notAfter": int(i.not_after.timestamp()),
            "publicKey": i.public_key,
            "curve": i.curve,
        }
        for i in certs.read_certs(SAMPLES / f"{name}.crt")
    ]
    want = [
        {k: v for k, v in doc.items() if k not in {"fingerprint", "signature"}} for doc in printed()[name]
    ]
    assert got == want
    fingerprints = [i.fingerprint for i in certs.read_certs(SAMPLES / f"{name}.crt")]
    assert fingerprints == [doc["fingerprint"] for doc in printed()[name]]


def test_cert_info_is_the_first_certificate() -> None:
    assert certs.cert_info(SAMPLES / "bundle.crt") == certs.cert_info(SAMPLES / "ca-v2.crt")
    assert [i.version for i in certs.read_certs(SAMPLES / "bundle.crt")] == [2, 1]


def test_verify_against_a_bundle_and_single_cas() -> None:
    host_v2, host_p256 = SAMPLES / "host-v2.crt", SAMPLES / "host-p256-v1.crt"
    assert certs.verify(SAMPLES / "bundle.crt", host_v2, now=NOW) is None
    assert certs.verify(SAMPLES / "bundle.crt", host_p256, now=NOW) is None
    assert certs.verify(SAMPLES / "ca-v2.crt", host_v2, now=NOW) is None
    assert certs.verify(SAMPLES / "ca-v2.crt", host_p256, now=NOW) == "could not find ca for the certificate"
    assert certs.verify(SAMPLES / "ca-v2.crt", SAMPLES / "ca-v2.crt", now=NOW) == "no issuer in certificate"
    assert (
        certs.verify(host_v2, host_v2, now=NOW)
        == "error while adding ca cert to pool: alpha: certificate is not a CA"
    )


def test_verify_times() -> None:
    ca, host = SAMPLES / "ca-v2.crt", SAMPLES / "host-v2.crt"
    info = certs.cert_info(host)
    # The CA is checked first, and was made in the same second: neither is valid yet.
    early = info.not_before - timedelta(seconds=1)
    assert certs.verify(ca, host, now=early) == "root certificate is expired"
    assert certs.verify(ca, host, now=info.not_after) is None  # notAfter itself is still valid
    later = info.not_after + timedelta(seconds=1)
    assert certs.verify(ca, host, now=later) == "certificate is expired"
    ca_end = certs.cert_info(ca).not_after + timedelta(seconds=1)
    assert certs.verify(ca, host, now=ca_end) == "root certificate is expired"


def test_verify_names_the_certificate_of_a_bundle_that_fails(tmp_path: Path) -> None:
    crt = tmp_path / "two.crt"
    crt.write_bytes((SAMPLES / "host-v2.crt").read_bytes() + (SAMPLES / "host-p256-v1.crt").read_bytes())
    assert certs.verify(SAMPLES / "bundle.crt", crt, now=NOW) is None
    assert certs.verify(SAMPLES / "ca-v2.crt", crt, now=NOW) == (
        "certificate 2 (beta): could not find ca for the certificate"
    )


def test_public_key_pem_of_both_curves() -> None:
    x25519 = certs.cert_info(SAMPLES / "host-v2.crt").public_key_pem().decode()
    p256 = certs.cert_info(SAMPLES / "host-p256-v1.crt").public_key_pem().decode()
    assert x25519.startswith("-----BEGIN NEBULA X25519 PUBLIC KEY-----\n")
    assert p256.startswith("-----BEGIN NEBULA P256 PUBLIC KEY-----\n")
    assert len(base64.b64decode(p256.splitlines()[1])) == 65
    assert len(base64.b64decode(x25519.splitlines()[1])) == 32


V2 = (SAMPLES / "host-v2.crt").read_bytes()
V1 = (SAMPLES / "host-p256-v1.crt").read_bytes()


def der_of(text: bytes) -> bytes:
    return b"".join(base64.b64decode(line) for line in text.splitlines()[1:-1])


def block(banner: str, der: bytes) -> bytes:
    return f"-----BEGIN {banner}-----\n{base64.b64encode(der).decode()}\n-----END {banner}-----\n".encode()


HOSTILE = {
    "empty": (b"", "input did not contain a valid PEM encoded block"),
    "yaml": (b"ip: 10.42.0.2\n", "input did not contain a valid PEM encoded block"),
    "text-before": (b"hello\n" + V2, "line 1: text outside a PEM block"),
    "text-after": (V2 + b"hello\n", "line 8: text outside a PEM block"),
    "glued-after-end": (V2.rstrip() + b"x\n", "line 1: text after the PEM END line"),
    "no-end": (V2[:-40], "line 1: PEM block has no END line"),
    "header": (V2.replace(b"-----\n", b"-----\nProc-Type: 4\n", 1), "line 1: PEM block holds a header"),
    "bad-base64": (block("NEBULA CERTIFICATE", b"").replace(b"\n\n", b"\nQQ\n"), "not valid base64"),
    "data-after-padding": (
        b"-----BEGIN NEBULA CERTIFICATE-----\nQQ==QQ==\n-----END NEBULA CERTIFICATE-----\n",
        "not valid base64",
    ),
    "key-banner": (
        block("NEBULA X25519 PUBLIC KEY", b"k" * 32),
        "did not contain a proper certificate banner",
    ),
    "binary-banner": (
        b"-----BEGIN \xff\xfe-----\nAA==\n-----END \xff\xfe-----\n",
        "proper certificate banner",
    ),
    "v2-truncated": (block("NEBULA CERTIFICATE V2", der_of(V2)[:100]), "bad wire format"),
    "v2-huge-length": (
        block("NEBULA CERTIFICATE V2", b"\x30\x84\xff\xff\xff\xff" + b"\0" * 9),
        "bad wire format",
    ),
    "v2-long-form-short": (block("NEBULA CERTIFICATE V2", b"\x30\x81\x05" + b"\0" * 5), "bad wire format"),
    "v2-oversized": (
        block("NEBULA CERTIFICATE V2", b"\x30\x83\x01\x00\x00" + b"\0" * 65536),
        "bad wire format",
    ),
    "v1-truncated": (block("NEBULA CERTIFICATE", der_of(V1)[:100]), "cannot parse protobuf"),
    "v1-no-details": (block("NEBULA CERTIFICATE", b"\x12\x01x"), "encoded Details was nil"),
    "v1-odd-ips": (block("NEBULA CERTIFICATE", b"\x0a\x03\x12\x01\x05"), "encoded IPs should be in pairs"),
    "v1-garbage": (block("NEBULA CERTIFICATE", b"\xff" * 40), "cannot parse protobuf"),
    "v1-empty": (block("NEBULA CERTIFICATE", b""), "nil byte array"),
    "second-bad": (
        V2 + block("NEBULA CERTIFICATE", b"\xff"),
        "certificate 2 (line 8): cannot parse protobuf: Wire format was corrupt",
    ),
    "too-large": (b" " * (nebcert.MAX_PEM_SIZE + 1), "file is larger than 4 MiB"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_input_is_a_one_line_cert_error(case: str, tmp_path: Path) -> None:
    data, message = HOSTILE[case]
    path = tmp_path / "x.crt"
    path.write_bytes(data)
    with pytest.raises(certs.CertError) as caught:
        certs.read_certs(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("error while unmarshaling cert: ")
    assert certs.verify(path, SAMPLES / "host-v2.crt") is not None
    assert certs.verify(SAMPLES / "ca-v2.crt", path) is not None


def test_missing_file_is_a_cert_error(tmp_path: Path) -> None:
    with pytest.raises(certs.CertError, match="unable to read cert: No such file or directory"):
        certs.cert_info(tmp_path / "gone.crt")
    assert certs.verify(tmp_path / "gone.crt", SAMPLES / "host-v2.crt") == (
        "error while adding ca cert to pool: unable to read cert: No such file or directory"
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from([V1, V2]),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 255)), max_size=4),
    cut=st.integers(0, 400),
)
def test_mutated_certificates_give_only_cert_errors(
    source: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    der = bytearray(der_of(source))
    for pos, xor in flips:
        der[pos % len(der)] ^= xor
    banner = "NEBULA CERTIFICATE V2" if source is V2 else "NEBULA CERTIFICATE"
    pool = nebcert.CAPool(nebcert.read_pem((SAMPLES / "bundle.crt").read_bytes()))
    for data in (block(banner, bytes(der)), block(banner, bytes(der[:cut]))):
        assert "\n" not in failure(lambda data=data: nebcert.read_pem(data))
        if not failure(lambda data=data: nebcert.read_pem(data)):
            for cert in nebcert.read_pem(data):
                assert "\n" not in failure(lambda cert=cert: pool.verify(cert, NOW.timestamp()))


def failure(call: Callable[[], object]) -> str:
    """The CertError's message, "" when none; any other exception fails the test."""
    try:
        call()
    except nebcert.CertError as exc:
        return str(exc) or "(empty message)"
    return ""


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["NEBULA CERTIFICATE", "NEBULA CERTIFICATE V2"]))
def test_random_bytes_give_only_cert_errors(data: bytes, banner: str) -> None:
    for text in (data, block(banner, data)):
        assert "\n" not in failure(lambda text=text: nebcert.read_pem(text))


def test_times_beyond_datetime_are_clamped() -> None:
    assert certs._time(2**62).year == 9999  # noqa: SLF001 (the clamp itself)
    assert certs._time(-(2**62)).year == 1  # noqa: SLF001
