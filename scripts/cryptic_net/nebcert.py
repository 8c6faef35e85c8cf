"""Nebula certificates read and verified in-process: both formats, both curves, PEM bundles.

What nebula does, and so what this module does (read from slackhq/nebula v1.10.3, `cert/`, and
v1.11's `cert/ca_pool.go`; v1.6.1's `cert/cert.go` where Debian 12's nebula differs):

- A file is PEM. `NEBULA CERTIFICATE` blocks hold version 1 (protobuf, `cert_v1.proto`),
  `NEBULA CERTIFICATE V2` blocks version 2 (DER, `cert_v2.asn1`). A file may hold several
  (a CA bundle). Stricter than Go's `pem.Decode`, which skips text before a block: anything but
  whitespace outside a block, a PEM header, an unknown banner or bad base64 is an error here.
- Version 1: the fingerprint is the SHA-256 of the certificate *re-encoded* from its decoded
  fields, and the signature covers the re-encoded details (`getRawDetails`), not the bytes read.
  The curve (field 100) picks Ed25519 or ECDSA P-256 with SHA-256.
- Version 2: the signature covers the details element exactly as read, then one curve byte,
  then the public key; the fingerprint is the SHA-256 of those and the signature. Fields after
  `issuer` inside the details are allowed (the ASN.1 extension marker) and signed as read.
- A CA pool (`ca_pool.go`) keys CAs by fingerprint; each must be a self-signed CA. A certificate
  verifies when its issuer is in the pool, its curve is the CA's (1.11), the CA and the
  certificate are valid now, the signature matches, and it stays inside the CA: not valid before
  it or after it, groups, networks and unsafe networks within the CA's where the CA lists any.
  Expired CAs stay in the pool (as in nebula's daemon and nebula-cert >= 1.11; 1.10's
  `nebula-cert verify` refused the whole bundle): what they signed fails as "root certificate is
  expired".

Why these libraries:

- `cryptography` (PyPI) verifies Ed25519 and ECDSA signatures: never hand-written cryptography.
- `protobuf` (PyPI, the upb runtime) decodes version 1 from a descriptor built here at run
  time (no generated code, no protoc). Protobuf decoding has many quiet rules that nebula gets
  from Go's conformance-tested runtime (packed and unpacked repeated fields, last value wins,
  repeated sub-messages merge, unknown fields skipped, invalid UTF-8 refused); the same rules
  from the same conformance suite make the fingerprint and the signed bytes agree with nebula's
  on any input. It re-encodes deterministically in field order, as Go does.
- Version 2 is read by a small DER reader of our own (`_Der`), not `asn1crypto` or `pyasn1`:
  nebula reads it with Go's `cryptobyte`, by hand, not from the ASN.1 module, and the exact
  rules decide what verifies: implicitly tagged fields with fixed one-byte tags, a curve and a
  boolean that are single raw bytes (a BOOLEAN is true for any non-zero byte), minimal DER
  lengths and integers, no high tag numbers, details signed as read, unknown trailing fields
  skipped. A schema library accepts and refuses other things (BER lengths, strict booleans,
  unknown fields), so its answers would differ from nebula's on hostile input; the reader is
  50 lines, bounded (no recursion, 64 KiB per certificate as nebula), and never raises anything
  but `CertError`.

Every failure is a `CertError` with a one-line reason; no other exception escapes for any input.
"""

from __future__ import annotations

import binascii
import hashlib
import ipaddress
import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from google.protobuf.message import Message

V1_BANNER = "NEBULA CERTIFICATE"
V2_BANNER = "NEBULA CERTIFICATE V2"
CURVE25519, P256 = 0, 1
CURVE_NAMES = {CURVE25519: "CURVE25519", P256: "P256"}
MAX_CERT_SIZE = 65536  # cert_v2.go MaxCertificateSize
MAX_NAME = 253  # cert_v2.go MaxNameLength
MAX_NETWORK = 17  # 16 address bytes + prefix length
MAX_PEM_SIZE = 4 << 20  # a bundle of thousands of CAs fits; more is not a certificate file


class CertError(Exception):
    """A certificate could not be read or does not verify; the message is one line."""


class Prefix(NamedTuple):
    """An address with a prefix length, host bits kept (Go's netip.Prefix)."""

    addr: ipaddress.IPv4Address | ipaddress.IPv6Address
    bits: int

    def __str__(self) -> str:
        mapped = getattr(self.addr, "ipv4_mapped", None)
        text = f"::ffff:{mapped}" if mapped is not None else str(self.addr)
        return f"{text}/{self.bits}"

    def contains(self, other: Prefix) -> bool:
        """`ca.Contains(cert.Addr()) && ca.Bits() <= cert.Bits()`, as ca_pool.go asks."""
        if self.addr.version != other.addr.version or self.bits > other.bits:
            return False
        shift = self.addr.max_prefixlen - self.bits
        return (int(self.addr) >> shift) == (int(other.addr) >> shift)


@dataclass(frozen=True)
class Certificate:
    version: int
    name: str
    networks: tuple[Prefix, ...]
    unsafe_networks: tuple[Prefix, ...]
    groups: tuple[str, ...]
    is_ca: bool
    issuer: str  # hex fingerprint of the signing CA, "" for a CA
    not_before: int  # seconds since the epoch, as nebula keeps them
    not_after: int
    public_key: bytes
    curve: int
    signature: bytes
    fingerprint: str
    signed: bytes = field(repr=False)  # the bytes the signature covers

    @property
    def curve_name(self) -> str:
        return CURVE_NAMES.get(self.curve, str(self.curve))

    def expired(self, now: float) -> bool:
        return self.not_before > now or self.not_after < now

    def check_signature(self, key: bytes) -> bool:
        """The signature is `key`'s over the signed bytes (cert_v1.go/cert_v2.go CheckSignature)."""
        try:
            if self.curve == CURVE25519:
                if len(key) != 32:
                    return False
                Ed25519PublicKey.from_public_bytes(key).verify(self.signature, self.signed)
                return True
            if self.curve == P256:
                # Go's ecdsa.ParseUncompressedPublicKey: 65 bytes, 0x04 first; no compressed points.
                if len(key) != 65 or key[0] != 4:
                    return False
                point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
                point.verify(self.signature, self.signed, ec.ECDSA(hashes.SHA256()))
                return True
        except (InvalidSignature, ValueError):
            return False
        return False


# ---------------------------------------------------------------------------------------------
# PEM


_PEM_BEGIN = re.compile(rb"-----BEGIN ([^\r\n]*?)-----[ \t]*\r?\n")
_B64_LINE = re.compile(rb"[A-Za-z0-9+/=]*")


def pem_blocks(data: bytes) -> Iterator[tuple[int, str, bytes]]:
    """(line, banner, bytes) of each PEM block; only whitespace may lie between blocks."""
    if len(data) > MAX_PEM_SIZE:
        raise CertError(f"file is larger than {MAX_PEM_SIZE >> 20} MiB")
    pos = 0
    while True:
        skip = len(data) - pos - len(data[pos:].lstrip())
        pos += skip
        if pos >= len(data):
            return
        line = data.count(b"\n", 0, pos) + 1
        begin = _PEM_BEGIN.match(data, pos)
        if begin is None:
            if b"-----BEGIN " not in data:
                raise CertError("input did not contain a valid PEM encoded block")
            raise CertError(f"line {line}: text outside a PEM block")
        banner = begin.group(1)
        end_marker = b"-----END " + banner + b"-----"
        end = data.find(end_marker, begin.end())
        if end < 0:
            raise CertError(f"line {line}: PEM block has no END line")
        body = data[begin.end() : end]
        lines = body.split(b"\n")
        if not all(_B64_LINE.fullmatch(raw.strip(b" \t\r")) for raw in lines):
            raise CertError(f"line {line}: PEM block holds a header or non-base64 text")
        try:
            # Strict, as Go's base64.StdEncoding: padding only at the end, nothing after it.
            decoded = binascii.a2b_base64(b"".join(raw.strip(b" \t\r") for raw in lines), strict_mode=True)
        except (binascii.Error, ValueError):
            raise CertError(f"line {line}: PEM block is not valid base64") from None
        yield line, banner.decode("ascii", "replace"), decoded
        pos = end + len(end_marker)
        if data[pos : pos + 1] not in {b"", b"\n", b"\r", b" ", b"\t"}:
            raise CertError(f"line {line}: text after the PEM END line")


# ---------------------------------------------------------------------------------------------
# Version 1: protobuf


def _v1_classes() -> tuple[type[Message], type[Message]]:
    """RawNebulaCertificate and its details, from cert_v1.proto, built at run time."""
    proto = descriptor_pb2.FieldDescriptorProto
    f = descriptor_pb2.FileDescriptorProto(
        name="cryptic_net/nebula_cert_v1.proto", package="cryptic_net.nebula.cert", syntax="proto3"
    )
    curve = f.enum_type.add(name="Curve")
    curve.value.add(name="CURVE25519", number=0)
    curve.value.add(name="P256", number=1)
    details = f.message_type.add(name="RawNebulaCertificateDetails")
    opt, rep = proto.LABEL_OPTIONAL, proto.LABEL_REPEATED
    for name, number, kind, label in (
        ("Name", 1, proto.TYPE_STRING, opt),
        ("Ips", 2, proto.TYPE_UINT32, rep),
        ("Subnets", 3, proto.TYPE_UINT32, rep),
        ("Groups", 4, proto.TYPE_STRING, rep),
        ("NotBefore", 5, proto.TYPE_INT64, opt),
        ("NotAfter", 6, proto.TYPE_INT64, opt),
        ("PublicKey", 7, proto.TYPE_BYTES, opt),
        ("IsCA", 8, proto.TYPE_BOOL, opt),
        ("Issuer", 9, proto.TYPE_BYTES, opt),
    ):
        details.field.add(name=name, number=number, type=kind, label=label)
    details.field.add(
        name="curve", number=100, type=proto.TYPE_ENUM, type_name=".cryptic_net.nebula.cert.Curve", label=opt
    )
    raw = f.message_type.add(name="RawNebulaCertificate")
    raw.field.add(
        name="Details",
        number=1,
        type=proto.TYPE_MESSAGE,
        type_name=".cryptic_net.nebula.cert.RawNebulaCertificateDetails",
        label=opt,
    )
    raw.field.add(name="Signature", number=2, type=proto.TYPE_BYTES, label=opt)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return (
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName("cryptic_net.nebula.cert.RawNebulaCertificate")
        ),
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName("cryptic_net.nebula.cert.RawNebulaCertificateDetails")
        ),
    )


RawCertificateV1, RawDetailsV1 = _v1_classes()


def _mask_bits(mask: int) -> int:
    """Go's net.IPMask.Size(): the ones of a canonical mask, 0 for any other (cert_v1.go)."""
    ones = 32 - ((~mask & 0xFFFFFFFF).bit_length())
    return ones if mask == (0xFFFFFFFF << (32 - ones)) & 0xFFFFFFFF else 0


def _v1_pairs(values: list[int], what: str) -> tuple[Prefix, ...]:
    if len(values) % 2:
        raise CertError(f"encoded {what} should be in pairs, an odd number was found")
    return tuple(
        Prefix(ipaddress.IPv4Address(values[i]), _mask_bits(values[i + 1])) for i in range(0, len(values), 2)
    )


def _v1_encode_pairs(prefixes: tuple[Prefix, ...]) -> list[int]:
    out: list[int] = []
    for p in prefixes:
        out += [int(p.addr), (0xFFFFFFFF << (32 - p.bits)) & 0xFFFFFFFF]
    return out


def _read_v1(der: bytes) -> Certificate:
    if not der:
        raise CertError("nil byte array")
    raw: Any = RawCertificateV1()
    try:
        raw.ParseFromString(der)
    except (DecodeError, RuntimeError, ValueError) as exc:
        # upb says "Error parsing message with type '...': <reason>"; the reason is what helps.
        reason = str(exc).splitlines()[0].rpartition("': ")[2] if str(exc) else "bad data"
        raise CertError(f"cannot parse protobuf: {reason}") from None
    if not raw.HasField("Details"):
        raise CertError("encoded Details was nil")
    d = raw.Details
    networks = _v1_pairs(list(d.Ips), "IPs")
    unsafe = _v1_pairs(list(d.Subnets), "Subnets")
    # What nebula signs and hashes: the details re-encoded from the decoded values.
    again: Any = RawDetailsV1(
        Name=d.Name,
        Ips=_v1_encode_pairs(networks),
        Subnets=_v1_encode_pairs(unsafe),
        Groups=list(d.Groups),
        NotBefore=d.NotBefore,
        NotAfter=d.NotAfter,
        PublicKey=bytes(d.PublicKey),
        IsCA=d.IsCA,
        Issuer=bytes(d.Issuer),
        curve=d.curve,
    )
    whole: Any = RawCertificateV1(Signature=bytes(raw.Signature))
    whole.Details.CopyFrom(again)
    whole.Details.SetInParent()
    signed = again.SerializeToString(deterministic=True)
    c = Certificate(
        version=1,
        name=d.Name,
        networks=networks,
        unsafe_networks=unsafe,
        groups=tuple(d.Groups),
        is_ca=d.IsCA,
        issuer=bytes(d.Issuer).hex(),
        not_before=d.NotBefore,
        not_after=d.NotAfter,
        public_key=bytes(d.PublicKey),
        curve=d.curve,
        signature=bytes(raw.Signature),
        fingerprint=hashlib.sha256(whole.SerializeToString(deterministic=True)).hexdigest(),
        signed=signed,
    )
    _validate_v1(c)
    return c


def _validate_v1(c: Certificate) -> None:
    if not c.public_key:
        raise CertError("invalid public key")
    # Version 1 allows several networks and uses the first (cert_v1.go validate).
    if not c.is_ca and not c.networks:
        raise CertError("non-CA certificates must contain exactly one network")
    for n in c.networks:
        if n.addr.is_unspecified:
            raise CertError(f"non-CA certificates must not use the zero address as a network: {n}")


# ---------------------------------------------------------------------------------------------
# Version 2: DER, read the way cryptobyte reads it


class _Der:
    """A cursor over DER bytes with cryptobyte's rules; every failure is ErrBadFormat."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def empty(self) -> bool:
        return self.pos >= len(self.data)

    def peek(self, tag: int) -> bool:
        return self.pos < len(self.data) and self.data[self.pos] == tag

    def element(self, tag: int) -> tuple[bytes, bytes]:
        """(whole element, contents) of the next element, which must carry `tag`."""
        data, pos = self.data, self.pos
        if len(data) - pos < 2 or data[pos] != tag or tag & 0x1F == 0x1F:  # no high tag numbers
            raise CertError("bad wire format")
        length = data[pos + 1]
        header = 2
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > 4 or len(data) - pos < 2 + size:
                raise CertError("bad wire format")
            length = int.from_bytes(data[pos + 2 : pos + 2 + size], "big")
            # X.690 10.1: the shortest form, no leading zero octet.
            if length < 0x80 or length >> ((size - 1) * 8) == 0:
                raise CertError("bad wire format")
            header += size
        end = pos + header + length
        if end > len(data):
            raise CertError("bad wire format")
        self.pos = end
        return data[pos:end], data[pos + header : end]

    def read(self, tag: int) -> bytes:
        return self.element(tag)[1]

    def optional(self, tag: int) -> bytes | None:
        return self.read(tag) if self.peek(tag) else None

    def int64(self, tag: int) -> int:
        body = self.read(tag)
        # cryptobyte checkASN1Integer: not empty, minimal; asn1Signed: at most 8 bytes.
        if not body or len(body) > 8:
            raise CertError("bad wire format")
        if len(body) > 1 and (
            (body[0] == 0 and body[1] & 0x80 == 0) or (body[0] == 0xFF and body[1] & 0x80 == 0x80)
        ):
            raise CertError("bad wire format")
        return int.from_bytes(body, "big", signed=True)


def _v2_networks(body: bytes | None, what: str) -> tuple[Prefix, ...]:
    if body is None:
        return ()
    out = []
    der = _Der(body)
    while not der.empty():
        val = der.read(0x04)  # OCTET STRING
        if not val or len(val) > MAX_NETWORK:
            raise CertError("bad wire format")
        addr_bytes, bits = val[:-1], val[-1]
        # netip.Prefix.UnmarshalBinary: 4 or 16 address bytes (none gives an invalid prefix).
        if len(addr_bytes) == 4:
            addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(addr_bytes)
        elif len(addr_bytes) == 16:
            addr = ipaddress.IPv6Address(addr_bytes)
        elif not addr_bytes:
            raise CertError(f"invalid {what}: invalid Prefix")
        else:
            raise CertError("bad wire format")
        if bits > addr.max_prefixlen:
            raise CertError(f"invalid {what}: invalid Prefix ({addr}/{bits})")
        out.append(Prefix(addr, bits))
    return tuple(out)


def _read_v2(der_bytes: bytes) -> Certificate:
    if not der_bytes or len(der_bytes) > MAX_CERT_SIZE:
        raise CertError("bad wire format")
    outer = _Der(_Der(der_bytes).read(0x30))  # SEQUENCE; bytes after it are ignored, as nebula does
    if outer.empty():
        raise CertError("bad wire format")
    raw_details, details_body = outer.element(0xA0)
    curve_raw = outer.optional(0x81)
    if curve_raw is not None and len(curve_raw) != 1:
        raise CertError("bad wire format")
    curve = curve_raw[0] if curve_raw is not None else CURVE25519
    public_key = outer.optional(0x82)
    if not public_key:
        raise CertError("bad wire format")
    signature = outer.read(0x83)
    if not signature:
        raise CertError("bad wire format")

    c = _v2_details(details_body, raw_details, curve, public_key, signature)
    _validate_v2(c)
    return c


def _v2_details(
    body: bytes, raw_details: bytes, curve: int, public_key: bytes, signature: bytes
) -> Certificate:
    d = _Der(body)
    if d.empty():
        raise CertError("bad wire format")
    name = d.read(0x80)
    if not name or len(name) > MAX_NAME:
        raise CertError("bad wire format")
    networks = _v2_networks(d.optional(0xA1), "network")
    unsafe = _v2_networks(d.optional(0xA2), "unsafe network")
    groups: list[str] = []
    groups_body = d.optional(0xA3)
    if groups_body is not None:
        g = _Der(groups_body)
        while not g.empty():
            val = g.read(0x0C)  # UTF8String
            if not val:
                raise CertError("bad wire format")
            groups.append(val.decode("utf-8", "replace"))
    is_ca_raw = d.optional(0x84)
    if is_ca_raw is not None and len(is_ca_raw) != 1:
        raise CertError("bad wire format")
    not_before = d.int64(0x85)
    not_after = d.int64(0x86)
    issuer = d.optional(0x87) or b""
    # Anything after the issuer is a later version's field: signed as read, not interpreted.

    signed = raw_details + bytes([curve]) + public_key
    return Certificate(
        version=2,
        name=name.decode("utf-8", "replace"),
        networks=tuple(sorted(networks, key=_prefix_key)),
        unsafe_networks=tuple(sorted(unsafe, key=_prefix_key)),
        groups=tuple(groups),
        is_ca=is_ca_raw is not None and is_ca_raw[0] > 0,
        issuer=issuer.hex(),
        not_before=not_before,
        not_after=not_after,
        public_key=public_key,
        curve=curve,
        signature=signature,
        fingerprint=hashlib.sha256(signed + signature).hexdigest(),
        signed=signed,
    )


def _prefix_key(p: Prefix) -> tuple[int, int, int]:
    # netip.Addr.Compare: IPv4 before IPv6, then by address; then by prefix length (comparePrefix).
    return (p.addr.version, int(p.addr), p.bits)


def _validate_v2(c: Certificate) -> None:
    if not c.is_ca and not c.networks:
        raise CertError("non-CA certificate must contain at least 1 network")
    for n in c.networks:
        if n.addr.is_unspecified:
            raise CertError(f"non-CA certificates must not use the zero address as a network: {n}")
        if getattr(n.addr, "ipv4_mapped", None) is not None:
            raise CertError(f"4in6 networks are not allowed: {n}")
    for prefixes in (c.networks, c.unsafe_networks):
        for a, b in itertools.pairwise(prefixes):
            if a == b:
                raise CertError(f"duplicate network detected: {b}")
    _unsafe_families(c)


def _unsafe_families(c: Certificate) -> None:
    families = {n.addr.version for n in c.networks}
    if not c.is_ca:
        for n in c.unsafe_networks:
            if n.addr.version not in families:
                v = n.addr.version
                raise CertError(f"IPv{v} unsafe networks require an IPv{v} address assignment: {n}")


# ---------------------------------------------------------------------------------------------
# Reading and verifying


def read_pem(data: bytes) -> tuple[Certificate, ...]:
    """Every certificate of a PEM file; the first bad block is a CertError naming it."""
    out = []
    for index, (line, banner, der) in enumerate(pem_blocks(data)):
        where = f"certificate {index + 1} (line {line}): " if index else ""
        try:
            out.append(_read_block(banner, der))
        except CertError as exc:
            raise CertError(f"{where}{exc}") from None
        except Exception as exc:  # noqa: BLE001 (a promise: hostile input never escapes as another error)
            raise CertError(f"{where}unreadable certificate ({type(exc).__name__})") from None
    if not out:
        raise CertError("input did not contain a valid PEM encoded block")
    return tuple(out)


def _read_block(banner: str, der: bytes) -> Certificate:
    if banner == V1_BANNER:
        return _read_v1(der)
    if banner == V2_BANNER:
        return _read_v2(der)
    shown = banner if banner.isprintable() and len(banner) <= 40 else banner[:40].encode().hex()
    raise CertError(f"bytes did not contain a proper certificate banner ({shown!r})")


class CAPool:
    """Trusted CAs by fingerprint, as nebula's CAPool (cert/ca_pool.go)."""

    def __init__(self, cas: Iterable[Certificate]) -> None:
        self.cas: dict[str, Certificate] = {}
        for ca in cas:
            if not ca.is_ca:
                raise CertError(f"{ca.name}: certificate is not a CA")
            if not ca.check_signature(ca.public_key):
                raise CertError(f"{ca.name}: certificate is not self-signed")
            self.cas[ca.fingerprint] = ca

    def verify(self, cert: Certificate, now: float) -> None:
        """Raise CertError with nebula's reason unless `cert` is valid at `now` under this pool."""
        if not cert.issuer:
            raise CertError("no issuer in certificate")
        ca = self.cas.get(cert.issuer)
        if ca is None:
            raise CertError("could not find ca for the certificate")
        if ca.curve != cert.curve:  # nebula 1.11 (ErrCurveMismatch); 1.10 panicked on such input
            raise CertError("certificate curve does not match CA")
        if ca.expired(now):
            raise CertError("root certificate is expired")
        if cert.expired(now):
            raise CertError("certificate is expired")
        if not cert.check_signature(ca.public_key):
            raise CertError("certificate signature did not match")
        check_ca_constraints(ca, cert)


def check_ca_constraints(ca: Certificate, cert: Certificate) -> None:
    """ca_pool.go checkCAConstraints: validity inside the CA's, groups and networks within its."""
    if cert.not_after > ca.not_after:
        raise CertError("certificate expires after signing certificate")
    if cert.not_before < ca.not_before:
        raise CertError("certificate is valid before the signing certificate")
    if ca.groups:
        for g in cert.groups:
            if g not in ca.groups:
                raise CertError(f"certificate contained a group not present on the signing ca: {g}")
    _within(ca.networks, cert.networks, "a network assignment")
    _within(ca.unsafe_networks, cert.unsafe_networks, "an unsafe network assignment")


def _within(allowed: tuple[Prefix, ...], wanted: tuple[Prefix, ...], what: str) -> None:
    if not allowed:
        return  # the CA does not restrict them
    for n in wanted:
        if not any(s.contains(n) for s in allowed):
            raise CertError(f"certificate contained {what} outside the limitations of the signing ca: {n}")
