"""The typed inventory model, and the partly-loaded files the checks read.

Two layers:
- `Network`, `Host`, `Inventory` (with `Firewall`, `Rule`, `Revoked`, and `Peer`, a host as
  the others' configurations see it): the validated model that the renderers read.
  `load_inventory` returns one only when no check reported an error.
- `NetworkFile`, `HostFile`: one YAML file each after parsing and the schema, holding the parts
  of the file that passed the schema (a bad firewall rule or alias is left out, the rest stays),
  so that every check can run on every valid part and one mistake hides nothing else. Typed
  accessors turn the plain data into model values; they never report problems (that is what the
  checks in `cryptic_net.checks` do), they return None or leave an item out.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptic_net.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cryptic_net.yamlload import Document

DEFAULT_MTU = 1300
DEFAULT_LIGHTHOUSE_PORT = 4242
RUNTIME_KEY_DIR = "/var/lib/cryptic-net"
REVOKED_FILE = "revoked.yml"
RULE_SELECTORS = ("host", "group", "groups", "cidr", "ca_name", "ca_sha")
Arch = Literal["x86_64", "aarch64"]
DEFAULT_ARCH: Arch = "x86_64"


# A DNS label; the tun device and the Nix attribute `host-<name>` need no more. `\Z`, not `$`:
# `$` also matches before a final newline.
HOSTNAME = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?\Z")


def valid_host_name(name: str) -> bool:
    return HOSTNAME.fullmatch(name) is not None


def upstream_problem(value: str) -> str | None:
    """Why `value` is not a DNS upstream in dnsmasq's `server=` form, or None.

    The form is ADDRESS or ADDRESS#PORT: an IPv4 or IPv6 address without a zone id (a zone id
    is free text, and one with a newline injected lines into dnsmasq.conf), optionally `#` and a
    port 1-65535, exactly as dnsmasq's `server=` takes it."""
    address, hash_, port = value.partition("#")
    if hash_ and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return f"{value!r}: the port after '#' must be within 1-65535"
    if "%" in address:
        return f"{value!r}: an IPv6 zone id (%...) is not allowed"
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


DEFAULT_CA_DURATION = "175200h"  # 20 years: host certificates can never outlive their CA


def default_key_dir(network: str) -> Path:
    """Where keys that stay on their host are written: beside no CA, outside every inventory."""
    return Path(f"~/.local/share/cryptic-net/{network}-keys")


def default_key_path(network: str) -> str:
    """Where a host's key lives on the target machine when the YAML does not say."""
    return f"{RUNTIME_KEY_DIR}/{network}/host.key"


# --- the validated model ---------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    fields: tuple[tuple[str, Any], ...]  # in nebula's key order, "port" and "proto" first

    def as_dict(self) -> dict[str, Any]:
        return dict(self.fields)


@dataclass(frozen=True)
class Firewall:
    inbound: tuple[Rule, ...] = ()
    outbound: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Network:
    name: str
    cidr: ipaddress.IPv4Network
    domain: str
    ca: Path  # the first of `cas`: the CA that signs new certificates
    lighthouse_port: int
    mtu: int
    dns_upstreams: tuple[str, ...]
    firewall: Firewall
    # Every trusted CA (network.yml `ca`: one path or a list, for rotation: current, next).
    cas: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Peer:
    """A host as the other hosts' configurations see it: the renderers read nothing else of
    another host (names and addresses for DNS, lighthouse endpoints, the relay role). A `Host`
    has all of these too; `Inventory.peers` holds either."""

    name: str
    ip: ipaddress.IPv4Address
    aliases: tuple[str, ...]
    endpoints: tuple[str, ...]  # empty unless a lighthouse
    relay: bool

    @property
    def is_lighthouse(self) -> bool:
        return bool(self.endpoints)


@dataclass(frozen=True)
class Host:
    name: str
    ip: ipaddress.IPv4Address
    groups: tuple[str, ...]
    endpoints: tuple[str, ...]  # empty unless a lighthouse
    lighthouses: tuple[str, ...]  # the lighthouses this host uses (resolved default)
    listen_port: int
    relay: bool
    relays: tuple[str, ...]
    cert: Path
    key_file: Path | None  # baked
    key_path: str | None  # read on the target machine
    firewall: Firewall
    aliases: tuple[str, ...]
    mtu: int
    arch: Arch = DEFAULT_ARCH

    @property
    def is_lighthouse(self) -> bool:
        return bool(self.endpoints)


@dataclass(frozen=True)
class Revoked:
    """A certificate in revoked.yml (cryptic_net.revocation): every host refuses it."""

    fingerprint: str
    date: str
    reason: str
    host: str = ""
    ip: str = ""
    line: int = 1
    col: int = 1

    def where(self) -> str:
        return f"{REVOKED_FILE}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Inventory:
    root: Path
    network: Network
    hosts: tuple[Host, ...]
    warnings: tuple[Any, ...] = ()  # Diagnostic
    # Every host's pki.blocklist. Required, by keyword: a model built without it (another path
    # from files to renderers) must fail, not render no blocklist.
    revoked: tuple[Revoked, ...] = field(kw_only=True)
    # Every host of the network as the others see it, where `hosts` holds only some: the model a
    # render from a description builds (describe.inventory_for_host) has the host it renders in
    # `hosts` and every host in `peers`. None: `hosts` are all the peers.
    peer_view: tuple[Peer | Host, ...] | None = field(default=None, kw_only=True, repr=False)

    @property
    def peers(self) -> tuple[Peer | Host, ...]:
        """Every host of the network, for what one host's configuration says about the others."""
        return self.hosts if self.peer_view is None else self.peer_view

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(h.name for h in self.peers)
        raise UserError(f"no host named {name!r} in {self.root / 'hosts'} (hosts: {known})")


def rule(raw: dict[str, Any]) -> Rule:
    ordered: list[tuple[str, Any]] = [("port", raw.get("port", "any")), ("proto", raw.get("proto", "any"))]
    ordered += [(k, raw[k]) for k in RULE_SELECTORS if k in raw]
    return Rule(tuple(ordered))


# --- files as loaded -------------------------------------------------------------------


class _Pruned:
    """Stands where a list item failed the schema, so that the others keep their index."""

    def __repr__(self) -> str:
        return "PRUNED"


PRUNED: Any = _Pruned()


def items(value: Any) -> Iterator[tuple[int, Any]]:
    """Index and item of a list, without the items that failed the schema."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            if item is not PRUNED:
                yield i, item


@dataclass(frozen=True)
class RuleAt:
    """A firewall rule that passed the schema, and where it stands (`$.firewall.inbound[0]`)."""

    doc: Document
    at: str
    raw: dict[str, Any]


def rules_at(doc: Document, base: str, firewall: Any) -> Iterator[RuleAt]:
    if not isinstance(firewall, dict):
        return
    for direction in ("inbound", "outbound"):
        for i, raw in items(firewall.get(direction)):
            yield RuleAt(doc, f"{base}.{direction}[{i}]", raw)


@dataclass
class NetworkFile:
    """network.yml: its document and the parts that passed the schema."""

    doc: Document
    data: dict[str, Any]
    complete: bool  # no schema error at all

    @property
    def defaults(self) -> dict[str, Any]:
        value = self.data.get("defaults")
        return value if isinstance(value, dict) else {}

    @functools.cached_property
    def cidr(self) -> ipaddress.IPv4Network | None:
        """The overlay network, when it is one a host can be in."""
        try:
            cidr = ipaddress.IPv4Network(self.data["cidr"])
        except (KeyError, ValueError):
            return None
        return cidr if cidr.prefixlen <= 30 else None

    @property
    def ca_values(self) -> list[tuple[str, str]]:
        """(json path, value) of every CA path (`ca` is one path or a list)."""
        value = self.data.get("ca")
        if isinstance(value, str):
            return [("$.ca", value)]
        return [(f"$.ca[{i}]", v) for i, v in items(value)]

    def rules(self) -> Iterator[RuleAt]:
        return rules_at(self.doc, "$.defaults.firewall", self.defaults.get("firewall"))


@dataclass
class HostFile:
    """hosts/NAME.yml: its name, document and the parts that passed the schema."""

    name: str
    doc: Document
    data: dict[str, Any]
    complete: bool  # no schema error at all
    network: NetworkFile | None = field(default=None, repr=False)

    @functools.cached_property
    def ip(self) -> ipaddress.IPv4Address | None:
        """The overlay IP, when it is a usable address of the network (else the checks say why)."""
        try:
            ip = ipaddress.IPv4Address(self.data["ip"])
        except (KeyError, ValueError):
            return None
        cidr = self.network.cidr if self.network is not None else None
        if cidr is not None and (ip not in cidr or ip in (cidr.network_address, cidr.broadcast_address)):
            return None
        return ip

    @functools.cached_property
    def groups(self) -> list[str]:
        return [g for _, g in items(self.data.get("groups"))]

    @property
    def is_lighthouse(self) -> bool:
        return "lighthouse" in self.data

    @property
    def endpoints(self) -> list[tuple[int, str]]:
        lighthouse = self.data.get("lighthouse")
        return list(items(lighthouse.get("endpoints"))) if isinstance(lighthouse, dict) else []

    @property
    def relay(self) -> bool:
        return bool(self.data.get("relay", False))

    def rules(self) -> Iterator[RuleAt]:
        return rules_at(self.doc, "$.firewall", self.data.get("firewall"))
