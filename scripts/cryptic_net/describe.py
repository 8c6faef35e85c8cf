"""Validate once per network, render per host: the network description.

`cryptic-net describe` validates the whole inventory (schema, checks, every certificate) once
and writes what the renderers need as one normalized JSON file: hosts, addresses, groups,
lighthouses, relays, firewall rules, certificate facts, and file paths relative to the
inventory root with their SHA-256.

`cryptic-net appdir HOST --description FILE` then builds the typed model from that file
(`cryptic_net.model`'s types; nothing checked across hosts again, no certificate parsed or
verified again, no other host's file read) and renders one host. Of the other hosts it reads
only what reaches this host's files (`model.Peer`: names, addresses, aliases, lighthouse
endpoints, the relay role); at 1,000 hosts reading every host whole was most of a host's build.
It still treats the file as hostile: every field it reads is type-checked, every string that
reaches a config file is checked for what the inventory's schema allows there, the lighthouses
and relays the host names must be hosts in that role, paths must stay inside the root, and the
CA files, the host's certificate and its baked key must have the SHA-256 the description
recorded (so a description never renders with files it did not validate).

Plain `json` from the standard library, no schema library: this path runs once per host in
a Nix build, and importing jsonschema would cost more than the render itself.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from typing import TYPE_CHECKING, Any, cast, get_args

from cryptic_net import __version__
from cryptic_net.errors import UserError
from cryptic_net.model import (
    HOSTNAME,
    RULE_SELECTORS,
    Arch,
    Firewall,
    Host,
    Inventory,
    Network,
    Peer,
    Revoked,
    Rule,
    upstream_problem,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from cryptic_net.certs import CertInfo

FORMAT = 1
FORMAT_KEY = "cryptic-net-description"
MAX_BYTES = 64 * 1024 * 1024

NETWORK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,11}$")
DOMAIN = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# What may reach a config file as a bare word (groups, CA names, ports, protocols, endpoints,
# key paths): no space, quote, backslash, comment sign or control character.
WORD = re.compile(r"^[A-Za-z0-9_.:/@+=,\[\]-]{1,255}$")
# DNS upstreams: what `upstream_problem` then checks exactly (ADDRESS or ADDRESS#PORT).
UPSTREAM = re.compile(r"[0-9A-Fa-f.:#]{2,52}")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# File names are only opened, never written into a config: any printable name will do.
FILE_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,4096}$")


RULE_KEYS = ("port", "proto", *RULE_SELECTORS)
ARCHES: tuple[str, ...] = get_args(Arch)


def _rule_value_ok(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, str) and WORD.fullmatch(v) for v in value)
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value <= 65535
    return isinstance(value, str) and WORD.fullmatch(value) is not None


# --- writing -------------------------------------------------------------------------------


def _relative(inv: Inventory, path: Path) -> str:
    try:
        return path.resolve().relative_to(inv.root.resolve()).as_posix()
    except ValueError:
        raise UserError(f"{path}: outside the inventory {inv.root}") from None


def _file(inv: Inventory, path: Path) -> dict[str, str]:
    return {"path": _relative(inv, path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _firewall(fw: Firewall) -> dict[str, list[dict[str, Any]]]:
    return {"inbound": [r.as_dict() for r in fw.inbound], "outbound": [r.as_dict() for r in fw.outbound]}


def _cert_facts(info: CertInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "networks": list(info.networks),
        "groups": sorted(info.groups),
        "fingerprint": info.fingerprint,
        "issuer": info.issuer,
        "not_before": info.not_before.isoformat(),
        "not_after": info.not_after.isoformat(),
    }


def describe(inv: Inventory, cert_info: Callable[[Path], CertInfo] | None = None) -> dict[str, Any]:
    """The normalized description of a validated inventory (deterministic: no time, no root)."""
    read: Callable[[Path], CertInfo]
    if cert_info is None:
        # Here, not at the top: reading a description never needs the certificate reader.
        from cryptic_net import certs  # noqa: PLC0415

        read = certs.cert_info
    else:
        read = cert_info
    net = inv.network
    groups: dict[str, list[str]] = {}
    for host in inv.hosts:
        for group in host.groups:
            groups.setdefault(group, []).append(host.name)
    hosts = []
    for host in inv.hosts:
        key: dict[str, Any] = (
            {"file": _file(inv, host.key_file)} if host.key_file is not None else {"path": host.key_path}
        )
        hosts.append(
            {
                "name": host.name,
                "ip": str(host.ip),
                "groups": list(host.groups),
                "aliases": list(host.aliases),
                "endpoints": list(host.endpoints),
                "lighthouses": list(host.lighthouses),
                "listen_port": host.listen_port,
                "relay": host.relay,
                "relays": list(host.relays),
                "mtu": host.mtu,
                "arch": host.arch,
                "firewall": _firewall(host.firewall),
                "cert": _file(inv, host.cert),
                "key": key,
                "certificate": _cert_facts(read(host.cert)),
            }
        )
    return {
        FORMAT_KEY: FORMAT,
        "generator": f"cryptic-net {__version__}",
        "network": {
            "name": net.name,
            "cidr": str(net.cidr),
            "domain": net.domain,
            "lighthouse_port": net.lighthouse_port,
            "mtu": net.mtu,
            "dns_upstreams": list(net.dns_upstreams),
            "firewall": _firewall(net.firewall),
            # Every trusted CA; the first signs new certificates (network.yml `ca`).
            "cas": [{**_file(inv, ca), "certificate": _cert_facts(read(ca))} for ca in net.cas or (net.ca,)],
        },
        "hosts": hosts,
        # Derived views, for tools that read the description (the renderers recompute them).
        "lighthouses": [h.name for h in inv.hosts if h.is_lighthouse],
        "relays": [h.name for h in inv.hosts if h.relay],
        "groups": dict(sorted(groups.items())),
        # revoked.yml: every host's nebula refuses these certificates (pki.blocklist).
        "revoked": [
            {"fingerprint": r.fingerprint, "date": r.date, "reason": r.reason, "host": r.host, "ip": r.ip}
            for r in inv.revoked
        ],
        "warnings": [str(w) for w in inv.warnings],
    }


def dumps(description: dict[str, Any]) -> str:
    """Byte-deterministic text: key order as built, two-space indent, final newline."""
    return json.dumps(description, indent=2, ensure_ascii=True) + "\n"


# --- reading -------------------------------------------------------------------------------


class _Reader:
    """Typed access to the decoded JSON; every failure names the file and the JSON path."""

    def __init__(self, file: str) -> None:
        self.file = file
        # Rules repeat across hosts (the same `ssh from admin` everywhere): each distinct one is
        # checked once.
        self._rules: dict[str, Rule] = {}

    def fail(self, at: str, message: str) -> UserError:
        return UserError(f"{self.file}: {at}: {message}")

    def obj(self, value: Any, at: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(at, "expected an object")
        return value

    def field(self, obj: dict[str, Any], at: str, key: str) -> Any:
        if key not in obj:
            raise self.fail(at, f"missing {key!r}")
        return obj[key]

    def string(self, obj: dict[str, Any], at: str, key: str, pattern: re.Pattern[str] = WORD) -> str:
        value = self.field(obj, at, key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self.fail(f"{at}.{key}", f"{value!r} is not allowed here")
        return value

    def integer(self, obj: dict[str, Any], at: str, key: str, low: int, high: int) -> int:
        value = self.field(obj, at, key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(f"{at}.{key}", f"{value!r} is not a whole number within {low}-{high}")
        return value

    def choice(self, obj: dict[str, Any], at: str, key: str, allowed: tuple[str, ...]) -> str:
        value = self.field(obj, at, key)
        if value not in allowed:
            raise self.fail(f"{at}.{key}", f"{value!r} is not one of: {', '.join(allowed)}")
        return str(value)

    def boolean(self, obj: dict[str, Any], at: str, key: str) -> bool:
        value = self.field(obj, at, key)
        if not isinstance(value, bool):
            raise self.fail(f"{at}.{key}", f"{value!r} is not true or false")
        return value

    def strings(
        self, obj: dict[str, Any], at: str, key: str, pattern: re.Pattern[str] = WORD
    ) -> tuple[str, ...]:
        value = self.field(obj, at, key)
        if value == []:
            return ()
        if not isinstance(value, list):
            raise self.fail(f"{at}.{key}", "expected a list")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not pattern.fullmatch(item):
                raise self.fail(f"{at}.{key}[{i}]", f"{item!r} is not allowed here")
        return tuple(value)

    def address(self, obj: dict[str, Any], at: str, key: str) -> ipaddress.IPv4Address:
        value = self.field(obj, at, key)
        try:
            return ipaddress.IPv4Address(value)
        except ValueError:
            raise self.fail(f"{at}.{key}", f"{value!r} is not an IPv4 address") from None

    def rules(self, value: Any, at: str) -> tuple[Rule, ...]:
        if not isinstance(value, list):
            raise self.fail(at, "expected a list of rules")
        rules = []
        for i, raw in enumerate(value):
            rule = self.obj(raw, f"{at}[{i}]")
            seen = repr(rule)  # exact: key order, types (1 vs "1") and values
            known = self._rules.get(seen)
            if known is None:
                for key, item in rule.items():
                    if key not in RULE_KEYS:
                        raise self.fail(
                            f"{at}[{i}].{key}", f"not a rule key (expected one of: {', '.join(RULE_KEYS)})"
                        )
                    if not _rule_value_ok(item):
                        raise self.fail(f"{at}[{i}].{key}", f"{item!r} is not allowed here")
                known = self._rules[seen] = Rule(tuple(rule.items()))
            rules.append(known)
        return tuple(rules)

    def firewall(self, obj: dict[str, Any], at: str) -> Firewall:
        fw = self.obj(self.field(obj, at, "firewall"), f"{at}.firewall")
        return Firewall(
            self.rules(self.field(fw, f"{at}.firewall", "inbound"), f"{at}.firewall.inbound"),
            self.rules(self.field(fw, f"{at}.firewall", "outbound"), f"{at}.firewall.outbound"),
        )

    def file_ref(self, root: Path, obj: dict[str, Any], at: str, key: str) -> tuple[Path, str]:
        return self.file_at(root, self.field(obj, at, key), f"{at}.{key}")

    def file_at(self, root: Path, value: Any, at: str) -> tuple[Path, str]:
        """`{path, sha256}`: a file inside the root, and the digest it had when validated."""
        ref = self.obj(value, at)
        rel = self.field(ref, at, "path")
        digest = self.string(ref, at, "sha256", SHA256)
        if (
            not isinstance(rel, str)
            or not FILE_NAME.fullmatch(rel)
            or rel.startswith("/")
            or ".." in rel.split("/")
        ):
            raise self.fail(f"{at}.path", f"{rel!r} is not a path inside the inventory")
        return root / rel, digest


def read_description(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise UserError(f"{path}: larger than {MAX_BYTES} bytes")
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not JSON: {exc}") from None
    if not isinstance(raw, dict) or raw.get(FORMAT_KEY) != FORMAT:
        raise UserError(
            f"{path}: not a cryptic-net network description of format {FORMAT} "
            "(write one with `cryptic-net describe`)"
        )
    return raw


def _host(r: _Reader, root: Path, raw: Any, at: str, network: Network) -> tuple[Host, dict[Path, str]]:
    obj = r.obj(raw, at)
    cert, cert_sha = r.file_ref(root, obj, at, "cert")
    key = r.obj(r.field(obj, at, "key"), f"{at}.key")
    digests = {cert: cert_sha}
    key_file: Path | None = None
    key_path: str | None = None
    if "file" in key:
        key_file, key_sha = r.file_ref(root, key, f"{at}.key", "file")
        digests[key_file] = key_sha
    else:
        key_path = r.string(key, f"{at}.key", "path")
        if not key_path.startswith("/"):
            raise r.fail(f"{at}.key.path", f"{key_path!r} is not an absolute path")
    host = Host(
        name=r.string(obj, at, "name", HOSTNAME),
        ip=r.address(obj, at, "ip"),
        groups=r.strings(obj, at, "groups"),
        endpoints=r.strings(obj, at, "endpoints"),
        lighthouses=r.strings(obj, at, "lighthouses", HOSTNAME),
        listen_port=r.integer(obj, at, "listen_port", 0, 65535),
        relay=r.boolean(obj, at, "relay"),
        relays=r.strings(obj, at, "relays", HOSTNAME),
        cert=cert,
        key_file=key_file,
        key_path=key_path,
        firewall=r.firewall(obj, at),
        aliases=r.strings(obj, at, "aliases", HOSTNAME),
        mtu=r.integer(obj, at, "mtu", 576, 9001),
        arch=cast("Arch", r.choice(obj, at, "arch", ARCHES)),
    )
    if host.ip not in network.cidr:
        raise r.fail(f"{at}.ip", f"{host.ip} is not in {network.cidr}")
    return host, digests


def _peer(r: _Reader, raw: Any, at: str, network: Network) -> Peer:
    """Another host, as this host's configuration names it: only what the renderers read of a
    peer (`Peer`), each value checked as strictly as the host's own. Its firewall, certificate,
    key and the rest reach no file of this host, so they are neither read nor checked here:
    with 1,000 hosts that was most of a host's build."""
    obj = r.obj(raw, at)
    peer = Peer(
        name=r.string(obj, at, "name", HOSTNAME),
        ip=r.address(obj, at, "ip"),
        aliases=r.strings(obj, at, "aliases", HOSTNAME),
        endpoints=r.strings(obj, at, "endpoints"),
        relay=r.boolean(obj, at, "relay"),
    )
    if peer.ip not in network.cidr:
        raise r.fail(f"{at}.ip", f"{peer.ip} is not in {network.cidr}")
    return peer


def _network(r: _Reader, root: Path, raw: Any) -> tuple[Network, dict[Path, str]]:
    at = "$.network"
    obj = r.obj(raw, at)
    cidr_text = r.field(obj, at, "cidr")
    try:
        cidr = ipaddress.IPv4Network(cidr_text)
    except (ValueError, TypeError):
        raise r.fail(f"{at}.cidr", f"{cidr_text!r} is not an IPv4 network") from None
    upstreams = r.strings(obj, at, "dns_upstreams", UPSTREAM)
    for i, upstream in enumerate(upstreams):
        # The same rule as `validate` (dnsmasq's server= form, no zone id): this value is
        # written into dnsmasq.conf as it is.
        problem = upstream_problem(upstream)
        if problem is not None:
            raise r.fail(f"{at}.dns_upstreams[{i}]", problem)
    cas_raw = r.field(obj, at, "cas")
    if not isinstance(cas_raw, list) or not cas_raw:
        raise r.fail(f"{at}.cas", "expected a list of at least one CA file")
    cas = dict(r.file_at(root, item, f"{at}.cas[{i}]") for i, item in enumerate(cas_raw))
    network = Network(
        name=r.string(obj, at, "name", NETWORK_NAME),
        cidr=cidr,
        domain=r.string(obj, at, "domain", DOMAIN),
        ca=next(iter(cas)),
        lighthouse_port=r.integer(obj, at, "lighthouse_port", 1, 65535),
        mtu=r.integer(obj, at, "mtu", 576, 9001),
        dns_upstreams=upstreams,
        firewall=r.firewall(obj, at),
        cas=tuple(cas),
    )
    return network, cas


def _revoked(r: _Reader, raw: Any) -> tuple[Revoked, ...]:
    if not isinstance(raw, list):
        raise r.fail("$.revoked", "expected a list")
    found = []
    for i, item in enumerate(raw):
        at = f"$.revoked[{i}]"
        obj = r.obj(item, at)
        texts = {k: r.field(obj, at, k) for k in ("date", "reason", "host", "ip")}
        for key, value in texts.items():
            if not isinstance(value, str) or not FILE_NAME.fullmatch(value or "-"):
                raise r.fail(f"{at}.{key}", f"{value!r} is not allowed here")
        found.append(Revoked(fingerprint=r.string(obj, at, "fingerprint", SHA256), **texts))
    return tuple(found)


def _check_digest(r: _Reader, root: Path, path: Path, expected: str) -> None:
    rel = path.relative_to(root).as_posix()
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()) or not resolved.is_file():
        raise UserError(f"{r.file}: {rel}: not a file inside the inventory {root}")
    if hashlib.sha256(resolved.read_bytes()).hexdigest() != expected:
        raise UserError(
            f"{r.file}: {rel}: differs from the file that was validated "
            "(run `cryptic-net describe` again on this inventory)"
        )


def _named_peers(r: _Reader, at: str, host: Host, peers: dict[str, Peer | Host]) -> None:
    """The lighthouses and relays `host` uses are hosts of the network in that role (what the
    checks made sure of; the renderer looks their addresses up by name)."""
    for key, names, role, what in (
        ("lighthouses", host.lighthouses, "is_lighthouse", "a lighthouse"),
        ("relays", host.relays, "relay", "a relay"),
    ):
        for i, name in enumerate(names):
            peer = peers.get(name)
            if peer is None or peer.name == host.name or not getattr(peer, role):
                raise r.fail(f"{at}.{key}[{i}]", f"{name!r} is not {what} of this network")


def inventory_for_host(description: Path, root: Path, host: str) -> Inventory:
    """The model one host's render needs, from a description; reads no other host's files.

    The host itself is read whole (`_host`); every other host only as a peer (`_peer`). The
    result has that one host in `hosts` and every host in `peers`."""
    root = root.absolute()
    raw = read_description(description)
    r = _Reader(str(description))
    network, cas = _network(r, root, raw.get("network"))
    hosts_raw = raw.get("hosts")
    if not isinstance(hosts_raw, list):
        raise r.fail("$.hosts", "expected a list")
    peers: list[Peer | Host] = []
    mine: tuple[Host, str, dict[Path, str]] | None = None
    for i, item in enumerate(hosts_raw):
        at = f"$.hosts[{i}]"
        if mine is None and isinstance(item, dict) and item.get("name") == host:
            parsed, digests = _host(r, root, item, at, network)
            mine = (parsed, at, digests)
            peers.append(parsed)
        else:
            peers.append(_peer(r, item, at, network))
    by_name = {p.name: p for p in peers}
    if len(by_name) != len(peers):
        raise r.fail("$.hosts", "host names repeat")
    if mine is None:
        known = ", ".join(by_name)
        raise UserError(f"{description}: no host named {host!r} (hosts: {known})")
    target, at, digests = mine
    _named_peers(r, at, target, by_name)
    inv = Inventory(
        root,
        network,
        (target,),
        revoked=_revoked(r, raw.get("revoked")),
        peer_view=tuple(peers),
    )
    for path, digest in [*cas.items(), *digests.items()]:
        _check_digest(r, root, path, digest)
    return inv
