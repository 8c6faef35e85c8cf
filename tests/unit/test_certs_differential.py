"""The in-process certificate reader against nebula-cert itself, on real certificates made now.

The corpus (made once per session, in about two seconds) holds certificates of both formats and
both curves made by nebula-cert 1.10+ and by Debian's 1.6 where it is at hand: CAs restricting
groups, networks and unsafe networks; hosts with many groups and networks; expired ones; and
certificates signed here with the CA's key where nebula-cert refuses to make them (not valid yet,
outliving the CA, groups or networks outside it, another curve, fields a later version adds),
then tampered, truncated, garbage, oversized, wrong banners, bundles. For every case and every
nebula-cert at hand (every one on PATH and /usr/bin/nebula-cert), `nebula-cert print -json` and
the reader must agree on every field (or both refuse), and `nebula-cert verify` and
`certs.verify` must both accept or both refuse, except where a case names the nebula-cert
versions that decide otherwise, and why.

With CI set, a missing 1.10+ or 1.6 nebula-cert fails the run; elsewhere those cases skip.
"""

from __future__ import annotations

import base64
import os
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptic_net import certs, nebcert
from tests.unit.nebula_oracle import Oracle, candidates

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.differential

ORACLES = candidates()
MODERN = [o for o in ORACLES if o.modern]
OLD = [o for o in ORACLES if o.version < (1, 10, 0)]
SHORT = 2  # seconds: the lifetime of the certificates that must have expired when the tests run


@dataclass
class Case:
    crt: Path
    ca: Path
    # What the in-process side says: "valid", "invalid" (read, does not verify), "unreadable",
    # or "any" (whatever nebula-cert says: byte flips).
    expect: str
    v16: bool = False  # nebula-cert 1.6 knows everything in it (version 1, Curve25519, one cert)
    # nebula-cert versions whose `verify` answers the other way, and why.
    differs: Callable[[Oracle], bool] | None = None

    @property
    def read(self) -> bool | None:
        return None if self.expect == "any" else self.expect != "unreadable"

    @property
    def valid(self) -> bool | None:
        return None if self.expect == "any" else self.expect == "valid"


def pem(banner: str, der: bytes) -> bytes:
    body = base64.b64encode(der).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {banner}-----\n{lines}\n-----END {banner}-----\n".encode()


def tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = (n.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + n.to_bytes(size, "big") + body


def der_int(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True)


def v2_net(text: str) -> bytes:
    import ipaddress  # noqa: PLC0415 (only here)

    iface = ipaddress.ip_interface(text)
    return tlv(0x04, iface.ip.packed + bytes([iface.network.prefixlen]))


@dataclass
class Signer:
    """A CA made by nebula-cert, whose key signs what nebula-cert would refuse to sign."""

    crt: Path
    fingerprint: str
    curve: int
    key: bytes
    not_before: int
    not_after: int

    def sign(self, data: bytes) -> bytes:
        if self.curve == nebcert.P256:
            private = ec.derive_private_key(int.from_bytes(self.key, "big"), ec.SECP256R1())
            return private.sign(data, ec.ECDSA(hashes.SHA256()))
        return Ed25519PrivateKey.from_private_bytes(self.key[:32]).sign(data)

    def host_key(self) -> bytes:
        if self.curve == nebcert.P256:
            return (
                ec.generate_private_key(ec.SECP256R1())
                .public_key()
                .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
            )
        return os.urandom(32)

    def v2(
        self,
        *,
        name: str = "crafted",
        networks: tuple[str, ...] = ("10.1.0.9/16",),
        unsafe: tuple[str, ...] = (),
        groups: tuple[str, ...] = (),
        not_before: int | None = None,
        not_after: int | None = None,
        extra: bytes = b"",
        curve: int | None = None,
        is_ca_byte: int | None = None,
        issuer: bytes | None = None,
        public_key: bytes | None = None,
    ) -> bytes:
        body = tlv(0x80, name.encode())
        if networks:
            body += tlv(0xA1, b"".join(map(v2_net, networks)))
        if unsafe:
            body += tlv(0xA2, b"".join(map(v2_net, unsafe)))
        if groups:
            body += tlv(0xA3, b"".join(tlv(0x0C, g.encode()) for g in groups))
        if is_ca_byte is not None:
            body += tlv(0x84, bytes([is_ca_byte]))
        body += tlv(0x85, der_int(self.not_before + 1 if not_before is None else not_before))
        body += tlv(0x86, der_int(self.not_after - 1 if not_after is None else not_after))
        body += tlv(0x87, bytes.fromhex(self.fingerprint) if issuer is None else issuer)
        details = tlv(0xA0, body + extra)
        curve = self.curve if curve is None else curve
        key = self.host_key() if public_key is None else public_key
        sig = self.sign(details + bytes([curve]) + key)
        outer = details + (tlv(0x81, bytes([curve])) if curve else b"") + tlv(0x82, key) + tlv(0x83, sig)
        return pem(nebcert.V2_BANNER, tlv(0x30, outer))

    def v1(self, *, name: str = "crafted", ip: int = 0x0A010009, mask: int = 0xFFFF0000, **kw: Any) -> bytes:
        d: Any = nebcert.RawDetailsV1(
            Name=name,
            Ips=[ip, mask],
            Subnets=kw.get("subnets", []),
            Groups=kw.get("groups", []),
            NotBefore=kw.get("not_before", self.not_before + 1),
            NotAfter=kw.get("not_after", self.not_after - 1),
            PublicKey=self.host_key(),
            Issuer=bytes.fromhex(self.fingerprint),
            curve=self.curve,
        )
        signed = d.SerializeToString(deterministic=True)
        # What is read may be encoded otherwise (here: an earlier Name that the later one
        # replaces); nebula signs and hashes the re-encoding.
        written = kw.get("prefix", b"") + signed
        sig = self.sign(signed)
        return pem(
            nebcert.V1_BANNER, b"\x0a" + _varint(len(written)) + written + b"\x12" + _varint(len(sig)) + sig
        )


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def _signer(oracle: Oracle, crt: Path, key: Path) -> Signer:
    info = oracle.print_json(crt)
    assert info, crt
    [(_, _, raw)] = list(nebcert.pem_blocks(key.read_bytes()))
    return Signer(
        crt,
        info[0]["fingerprint"],
        nebcert.P256 if info[0]["curve"] == "P256" else nebcert.CURVE25519,
        raw,
        info[0]["notBefore"],
        info[0]["notAfter"],
    )


GROUPS = [f"g{i}" for i in range(12)]


def _build(d: Path) -> dict[str, Case]:  # noqa: C901, PLR0915 (one list of cases, read top to bottom)
    new = MODERN[-1]
    old = OLD[0] if OLD else None
    cases: dict[str, Case] = {}

    def run(oracle: Oracle, *args: str | Path) -> None:
        result = oracle.run(*args)
        assert result.returncode == 0, (args, result.stderr)

    def ca(name: str, *flags: str, oracle: Oracle = new) -> Path:
        run(oracle, "ca", "-name", name, *flags, "-out-crt", d / f"{name}.crt", "-out-key", d / f"{name}.key")
        return d / f"{name}.crt"

    def host(name: str, issuer: str, *flags: str, oracle: Oracle = new) -> Path:
        args = ["sign", "-ca-crt", d / f"{issuer}.crt", "-ca-key", d / f"{issuer}.key", "-name", name]
        run(oracle, *args, *flags, "-out-crt", d / f"{name}.crt", "-out-key", d / f"{name}.key")
        return d / f"{name}.crt"

    def write(name: str, data: bytes) -> Path:
        (d / name).write_bytes(data)
        return d / name

    # Short-lived first, so that one wait covers them all.
    start = time.time()
    ca("short-ca-v2", "-duration", f"{SHORT}s")
    ca("short-ca-v1", "-version", "1", "-duration", f"{SHORT}s")
    host("expired-v2", "short-ca-v2", "-networks", "10.1.0.2/16")
    host("expired-v1", "short-ca-v1", "-version", "1", "-networks", "10.1.0.2/16")
    ca("long-ca", "-duration", "8760h")
    host("expired-host-v2", "long-ca", "-networks", "10.1.0.3/16", "-duration", f"{SHORT}s")
    host("expired-host-v1", "long-ca", "-version", "1", "-networks", "10.1.0.3/16", "-duration", f"{SHORT}s")

    groups = ",".join(GROUPS)
    restrict = ["-groups", groups, "-duration", "8760h"]
    for curve in ("25519", "P256"):
        v2_nets = ["-networks", "10.0.0.0/8,fd00::/8", "-unsafe-networks", "192.168.0.0/16,fd01::/16"]
        ca(f"ca-v2-{curve}", "-curve", curve, *restrict, *v2_nets)
        v1_nets = ["-networks", "10.0.0.0/8", "-unsafe-networks", "192.168.0.0/16"]
        ca(f"ca-v1-{curve}", "-curve", curve, "-version", "1", *restrict, *v1_nets)
        some = ["-groups", ",".join(GROUPS[1:9])]
        nets = ["-networks", "10.1.2.3/16,10.200.0.9/24,fd00::1:2/64,fd00:1::9/96"]
        unsafe = ["-unsafe-networks", "192.168.5.0/24,192.168.6.0/24,fd01::/64", "-duration", "100h"]
        host(f"full-v2-{curve}", f"ca-v2-{curve}", *some, *nets, *unsafe)
        v1_host = ["-networks", "10.1.2.3/16", "-unsafe-networks", "192.168.5.0/24,192.168.6.0/24"]
        host(f"full-v1-{curve}", f"ca-v1-{curve}", "-version", "1", *some, *v1_host)
        for v in ("v1", "v2"):
            cases[f"ca-{v}-{curve}"] = Case(d / f"ca-{v}-{curve}.crt", d / f"ca-{v}-{curve}.crt", "invalid")
            cases[f"full-{v}-{curve}"] = Case(d / f"full-{v}-{curve}.crt", d / f"ca-{v}-{curve}.crt", "valid")
    cases["ca-v1-25519"].v16 = cases["full-v1-25519"].v16 = True

    ca("plain-ca")  # no restrictions: anything goes
    many = ",".join(f"team-{i:02d}" for i in range(40))
    host("many", "plain-ca", "-groups", many, "-networks", ",".join(f"10.{i}.0.1/16" for i in range(1, 9)))
    cases["many-groups-networks"] = Case(d / "many.crt", d / "plain-ca.crt", "valid")
    ca("other-ca")
    host("other", "other-ca", "-networks", "10.1.0.5/16")
    cases["other-ca"] = Case(d / "other.crt", d / "ca-v2-25519.crt", "invalid")
    cases["ca-is-not-host"] = Case(d / "ca-v2-25519.crt", d / "ca-v2-25519.crt", "invalid")
    cases["host-is-not-ca"] = Case(d / "full-v2-25519.crt", d / "full-v2-25519.crt", "invalid")

    if old is not None:
        ca("ca16", "-ips", "10.0.0.0/8", "-subnets", "192.168.0.0/16", "-groups", groups, oracle=old)
        host(
            "h16", "ca16", "-ip", "10.1.2.3/16", "-subnets", "192.168.5.0/24", "-groups", "g1,g2", oracle=old
        )
        cases["made-by-1.6"] = Case(d / "h16.crt", d / "ca16.crt", "valid", v16=True)
        cases["made-by-1.6-ca"] = Case(d / "ca16.crt", d / "ca16.crt", "invalid", v16=True)

    # Bundles.
    names = ["ca-v2-25519", "ca-v1-P256", "other-ca", "ca-v1-25519"]
    bundle = write("bundle.crt", b"".join((d / f"{n}.crt").read_bytes() for n in names))
    cases["bundle-v1-p256"] = Case(d / "full-v1-P256.crt", bundle, "valid")
    cases["bundle-other"] = Case(d / "other.crt", bundle, "valid")
    cases["bundle-print"] = Case(bundle, bundle, "invalid")
    v16_bundle = write(
        "bundle16.crt", (d / "long-ca.crt").read_bytes() + (d / "ca-v1-25519.crt").read_bytes()
    )
    cases["bundle-v1-25519"] = Case(d / "full-v1-25519.crt", v16_bundle, "valid")
    two = write(
        "two-hosts.crt", (d / "full-v2-25519.crt").read_bytes() + (d / "full-v1-25519.crt").read_bytes()
    )
    cases["crt-bundle"] = Case(two, bundle, "valid")
    bad_second = write(
        "bad-second.crt", (d / "full-v2-25519.crt").read_bytes() + (d / "other.crt").read_bytes()
    )
    cases["crt-bundle-one-bad"] = Case(bad_second, d / "ca-v2-25519.crt", "invalid")
    with_expired = write(
        "with-expired.crt", (d / "short-ca-v2.crt").read_bytes() + (d / "ca-v2-25519.crt").read_bytes()
    )
    # nebula keeps expired CAs in its pool; `nebula-cert verify` refused such a bundle before
    # 1.11 (slackhq/nebula#1644, "Refactor CA pool handling to use streaming").
    cases["bundle-with-expired-ca"] = Case(
        d / "full-v2-25519.crt", with_expired, "valid", differs=lambda o: o.version < (1, 11, 0)
    )
    key = (d / "full-v2-25519.key").read_bytes()
    with_key = write("with-key.crt", (d / "ca-v2-25519.crt").read_bytes() + key)
    cases["bundle-with-a-key"] = Case(with_key, d / "ca-v2-25519.crt", "unreadable")

    # Expired (checked after the wait below).
    for v in ("v1", "v2"):
        cases[f"expired-ca-{v}"] = Case(d / f"expired-{v}.crt", d / f"short-ca-{v}.crt", "invalid")
        cases[f"expired-host-{v}"] = Case(d / f"expired-host-{v}.crt", d / "long-ca.crt", "invalid")

    # Signed here: what nebula-cert will not make.
    for curve in ("25519", "P256"):
        s2 = _signer(new, d / f"ca-v2-{curve}.crt", d / f"ca-v2-{curve}.key")
        s1 = _signer(new, d / f"ca-v1-{curve}.crt", d / f"ca-v1-{curve}.key")
        ca2 = s2.crt
        crafted = {
            "ok-v2": (s2.v2(groups=("g1",)), "valid"),
            "not-yet-valid": (s2.v2(not_before=int(time.time()) + 3600), "invalid"),
            "outlives-ca": (s2.v2(not_after=s2.not_after + 60), "invalid"),
            "before-ca": (s2.v2(not_before=s2.not_before - 60), "invalid"),
            "group-outside": (s2.v2(groups=("g1", "intruder")), "invalid"),
            "network-outside": (s2.v2(networks=("172.16.0.1/24",)), "invalid"),
            "network-wider": (s2.v2(networks=("10.1.2.3/4",)), "invalid"),
            "unsafe-outside": (s2.v2(unsafe=("10.200.0.0/24",)), "invalid"),
            "v6-unsafe-without-v6": (s2.v2(unsafe=("fd01::/64",)), "unreadable"),
            "later-field": (s2.v2(extra=tlv(0x88, b"a later version's field")), "valid"),
            "duplicate-network": (s2.v2(networks=("10.1.0.9/16", "10.1.0.9/16")), "unreadable"),
            "4in6-network": (s2.v2(networks=("::ffff:10.1.0.9/112",)), "unreadable"),
            "zero-network": (s2.v2(networks=("0.0.0.0/8",)), "unreadable"),
            "no-network": (s2.v2(networks=()), "unreadable"),
            # Any non-zero byte is true; nebula verifies a CA-flagged certificate a CA signed.
            "ca-byte-1": (s2.v2(is_ca_byte=1), "valid"),
            "other-curve": (s2.v2(curve=1 - s2.curve, public_key=os.urandom(32)), "invalid"),
            "no-issuer": (s2.v2(issuer=b""), "invalid"),
            "negative-time": (s2.v2(not_before=-5), "invalid"),
            "ok-v1": (s1.v1(groups=["g2", "g3"]), "valid"),
            "v1-reencoded": (s1.v1(prefix=b"\x0a\x05first"), "valid"),
            "v1-odd-mask": (s1.v1(mask=0xFF00FF00), "invalid"),
            "v1-subnet-outside": (s1.v1(subnets=[0x0AC80000, 0xFFFFFF00]), "invalid"),
            "v1-group-outside": (s1.v1(groups=["g2", "intruder"]), "invalid"),
            "v1-not-yet-valid": (s1.v1(not_before=int(time.time()) + 3600), "invalid"),
            "v1-zero-ip": (s1.v1(ip=0), "unreadable"),
        }
        for name, (data, expect) in crafted.items():
            ca_for = s1.crt if "v1" in name else ca2
            cases[f"{name}-{curve}"] = Case(write(f"{name}-{curve}.crt", data), ca_for, expect)

    # Tampered, truncated, garbage, oversized, wrong banners.
    rng = random.Random(12)  # noqa: S311 (a repeatable corpus, not a secret)
    ca_v2 = d / "ca-v2-25519.crt"
    for v in ("v1", "v2"):
        src, ca_v = d / f"full-{v}-25519.crt", d / f"ca-{v}-25519.crt"
        [(_, banner, der)] = list(nebcert.pem_blocks(src.read_bytes()))
        info = new.print_json(src)
        assert info
        sig = bytes.fromhex(info[0]["signature"])
        bad = {
            "tampered-signature": (pem(banner, der.replace(sig, sig[:-1] + bytes([sig[-1] ^ 1]))), "invalid"),
            "tampered-name": (pem(banner, der.replace(b"full-", b"fall-")), "invalid"),
            "truncated-der": (pem(banner, der[: len(der) * 3 // 5]), "unreadable"),
            "truncated-pem": (src.read_bytes()[: len(src.read_bytes()) // 2], "unreadable"),
        }
        for name, (data, expect) in bad.items():
            cases[f"{name}-{v}"] = Case(write(f"{name}-{v}.crt", data), ca_v, expect, v16=v == "v1")
        garbage = write(f"garbage-der-{v}.crt", pem(banner, rng.randbytes(200)))
        cases[f"garbage-der-{v}"] = Case(garbage, ca_v, "unreadable")
        # Byte flips all over a good certificate: the reader and nebula must agree on each.
        for i in range(20):
            pos = rng.randrange(len(der))
            mutated = der[:pos] + bytes([der[pos] ^ rng.randrange(1, 256)]) + der[pos + 1 :]
            cases[f"flip-{v}-{i:02d}"] = Case(write(f"flip-{v}-{i}.crt", pem(banner, mutated)), ca_v, "any")
    cases["garbage-file"] = Case(write("garbage.crt", rng.randbytes(300)), ca_v2, "unreadable", v16=True)
    # `nebula-cert verify` 1.10+ checks each certificate it finds in -crt; in an empty file there
    # are none, and it passes. Nothing is not a valid certificate.
    empty = write("empty.crt", b"")
    cases["empty-file"] = Case(empty, ca_v2, "unreadable", v16=True, differs=lambda o: o.modern)
    cases["wrong-banner"] = Case(d / "full-v2-25519.key", ca_v2, "unreadable", v16=True)
    huge = b"\x30\x84\x7f\xff\xff\xff" + b"\x00" * 64
    cases["huge-length"] = Case(write("huge.crt", pem(nebcert.V2_BANNER, huge)), ca_v2, "unreadable")
    big = tlv(0x30, tlv(0xA0, tlv(0x80, b"x" * 70000)))
    cases["oversized"] = Case(write("big.crt", pem(nebcert.V2_BANNER, big)), ca_v2, "unreadable")

    # Wait until the short-lived ones have expired (nebula: notAfter before now).
    time.sleep(max(0.0, start + SHORT + 1.2 - time.time()))
    return cases


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    if not MODERN:
        pytest.skip("no nebula-cert 1.10 or later on PATH (tests/run builds one into .cache)")
    return _build(tmp_path_factory.mktemp("certs"))


def ours_json(c: nebcert.Certificate) -> dict[str, Any]:
    return {
        "version": c.version,
        "name": c.name,
        "networks": list(map(str, c.networks)),
        "unsafeNetworks": list(map(str, c.unsafe_networks)),
        "groups": list(c.groups),
        "isCa": c.is_ca,
        "issuer": c.issuer,
        "notBefore": c.not_before,
        "notAfter": c.not_after,
        "publicKey": c.public_key.hex(),
        "curve": c.curve_name,
        "fingerprint": c.fingerprint,
        "signature": c.signature.hex(),
    }


def test_oracles_at_hand() -> None:
    """Both kinds of nebula-cert must be there in CI; elsewhere their absence only skips."""
    missing = []
    if not MODERN:
        missing.append("a nebula-cert 1.10 or later (tests/run builds one into .cache and puts it on PATH)")
    if not OLD:
        missing.append("Debian's nebula-cert 1.6 (/usr/bin/nebula-cert: apt install nebula)")
    if missing and os.environ.get("CI"):
        pytest.fail("the differential certificate test needs " + " and ".join(missing))
    if missing:
        pytest.skip("not at hand: " + "; ".join(missing))
    assert [o.label for o in ORACLES]


def _oracle_params() -> list[Any]:
    return [pytest.param(o, id=o.label) for o in ORACLES]


@pytest.mark.parametrize("oracle", _oracle_params())
def test_reader_agrees_with_nebula_cert(corpus: dict[str, Case], oracle: Oracle) -> None:
    checked = 0
    problems = []
    for name, case in corpus.items():
        if not oracle.modern and not case.v16:
            continue
        theirs = oracle.print_json(case.crt)
        try:
            ours: list[dict[str, Any]] | None = [
                ours_json(c) for c in nebcert.read_pem(case.crt.read_bytes())
            ]
        except nebcert.CertError:
            ours = None
        if not oracle.modern and ours is not None:
            for doc in ours:
                doc["curve"] = None  # 1.6 does not print it
        if case.read is not None and (ours is not None) != case.read:
            problems.append(f"{name}: the reader {'accepts' if ours else 'refuses'} it")
        if ours != theirs:
            problems.append(f"{name}: print -json {theirs} != ours {ours}")
        checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= (80 if oracle.modern else 8)


@pytest.mark.parametrize("oracle", _oracle_params())
def test_verify_agrees_with_nebula_cert(corpus: dict[str, Case], oracle: Oracle) -> None:
    checked = 0
    problems = []
    for name, case in corpus.items():
        if not oracle.modern and not case.v16:
            continue
        theirs, why = oracle.verify(case.ca, case.crt)
        reason = certs.verify(case.ca, case.crt)
        ours = reason is None
        if case.valid is not None and ours != case.valid:
            problems.append(f"{name}: certs.verify says {reason or 'valid'}")
        expected = not theirs if case.differs is not None and case.differs(oracle) else theirs
        if ours != expected:
            said = why.splitlines()[0][:160] if why else ""
            problems.append(f"{name}: nebula-cert verify {theirs} ({said}), ours {reason or 'valid'}")
        checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= (80 if oracle.modern else 8)
