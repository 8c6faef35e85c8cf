"""Load and validate an inventory: network.yml plus hosts/*.yml.

`load_inventory` returns a validated model or raises ValidationFailed with every error of
every file, each located at the YAML node it is about. Per-file problems (YAML, schema) are
found first; the cross-file rules then run over the files that passed, so that one broken
host file does not hide the errors of the others.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from cryptic_net import certs
from cryptic_net.errors import Diagnostic, UserError, ValidationFailed
from cryptic_net.yamlload import Document, LoadError, json_path, load_file

HOSTNAME = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
DEFAULT_MTU = 1300
DEFAULT_LIGHTHOUSE_PORT = 4242
EXPIRY_WARNING = timedelta(days=30)
RUNTIME_KEY_DIR = "/var/lib/cryptic-net"


def default_key_path(network: str) -> str:
    """Where a host's key lives on the target machine when the YAML does not say."""
    return f"{RUNTIME_KEY_DIR}/{network}/host.key"


RULE_SELECTORS = ("host", "group", "groups", "cidr", "ca_name", "ca_sha")
# Banners of nebula CA private keys (ed25519 in 1.6, also P256 in 1.10; encrypted or not).
# Host keys are X25519 or plain P256 and may be baked on purpose.
CA_KEY_BANNER = re.compile(rb"-----BEGIN NEBULA (ED25519|ECDSA P256)( ENCRYPTED)? PRIVATE KEY-----")
HOST_KEY_BANNER = re.compile(rb"-----BEGIN NEBULA (X25519|P256) PRIVATE KEY-----")
# Directories the CA-key scan does not enter: tool state, never inventory.
SCAN_SKIP = {".git", ".venv", "venv", "node_modules", "__pycache__", ".cache", ".direnv"}
SCAN_MAX_FILE = 64 * 1024
SCAN_MAX_FILES = 5000


# --- model -----------------------------------------------------------------------------


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
    ca: Path
    lighthouse_port: int
    mtu: int
    dns_upstreams: tuple[str, ...]
    firewall: Firewall


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

    @property
    def is_lighthouse(self) -> bool:
        return bool(self.endpoints)


@dataclass(frozen=True)
class Inventory:
    root: Path
    network: Network
    hosts: tuple[Host, ...]
    warnings: tuple[Diagnostic, ...] = ()

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(h.name for h in self.hosts)
        raise UserError(f"no host named {name!r} in {self.root / 'hosts'} (hosts: {known})")


# --- schema ----------------------------------------------------------------------------


def schema_text(name: str) -> str:
    return resources.files("cryptic_net").joinpath("schema", name).read_text(encoding="utf-8")


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schemas = {n: json.loads(schema_text(n)) for n in ("network.schema.json", "host.schema.json")}
    registry: Registry[Any] = Registry().with_resources(
        (n, Resource.from_contents(s)) for n, s in schemas.items()
    )
    return jsonschema.Draft202012Validator(schemas[name], registry=registry)


def _error_path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path = json_path(path, part)
    return path


def schema_errors(doc: Document, schema: str) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for error in _validator(schema).iter_errors(doc.data):
        path = _error_path(error)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = sorted(error.schema.get("properties", {}))
            for key in error.instance:
                if key not in allowed:
                    child = json_path(path, key)
                    expected = ", ".join(allowed)
                    found.append(doc.diag(child, f"unknown key (expected one of: {expected})", key=True))
            continue
        found.append(doc.diag(*_explain(error)))
    return found


def _explain(error: ValidationError) -> tuple[str, str]:
    """Path and message of a schema error, in the user's terms."""
    if error.validator in {"anyOf", "oneOf"} and error.context:
        # A problem inside one branch (e.g. `key.path` not absolute) is the one to report.
        deeper = [e for e in error.context if len(e.absolute_path) > len(error.absolute_path)]
        if deeper:
            return _explain(best_match(deeper))
    # Our schemas say in `x-message` what a value should look like: friendlier than a
    # regular expression or "not valid under any of the given schemas".
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if custom and error.validator in {"pattern", "anyOf", "oneOf"}:
        shown = isinstance(error.instance, (str, int)) and not isinstance(error.instance, bool)
        return _error_path(error), f"{error.instance!r} {custom}" if shown else custom
    if error.validator in {"anyOf", "oneOf"} and error.context:
        return _explain(best_match(error.context))
    return _error_path(error), error.message


# --- paths -----------------------------------------------------------------------------


def _display(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _inside(root: Path, doc: Document, at: str, base: Path, value: str) -> Path | Diagnostic:
    """Resolve `value` against `base`; it must exist inside the inventory root."""
    candidate = base / value
    resolved = candidate.resolve()
    if not resolved.is_relative_to(root.resolve()):
        return doc.diag(at, f"{value!r} points outside the inventory ({resolved})")
    if not resolved.is_file():
        return doc.diag(at, f"{value!r} does not exist ({_display(root, candidate)})")
    return resolved


# --- loading ---------------------------------------------------------------------------


@dataclass
class _Collector:
    root: Path
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    def load(self, path: Path, schema: str) -> Document | None:
        display = _display(self.root, path)
        if path.is_symlink() and not path.resolve().is_relative_to(self.root.resolve()):
            self.errors.append(
                Diagnostic(display, 1, 1, "$", f"symlink points outside the inventory ({path.resolve()})")
            )
            return None
        try:
            doc = load_file(display, path)
        except LoadError as exc:
            self.errors.append(exc.diagnostic)
            return None
        if doc.data is None:
            doc.data = {}
        problems = schema_errors(doc, schema)
        self.errors += problems
        return None if problems else doc


def _rule(raw: dict[str, Any]) -> Rule:
    ordered: list[tuple[str, Any]] = [("port", raw.get("port", "any")), ("proto", raw.get("proto", "any"))]
    ordered += [(k, raw[k]) for k in RULE_SELECTORS if k in raw]
    return Rule(tuple(ordered))


def _firewall(raw: dict[str, Any] | None) -> Firewall:
    raw = raw or {}
    return Firewall(
        tuple(_rule(r) for r in raw.get("inbound", [])),
        tuple(_rule(r) for r in raw.get("outbound", [])),
    )


def _rule_errors(doc: Document, base: str, raw: dict[str, Any] | None) -> list[Diagnostic]:
    """Rule checks nebula itself would only make at start, on the target machine."""
    found: list[Diagnostic] = []
    for direction in ("inbound", "outbound"):
        for i, rule in enumerate((raw or {}).get(direction, [])):
            at = f"{base}.{direction}[{i}]"
            if not any(k in rule for k in RULE_SELECTORS):
                found.append(doc.diag(at, "a rule needs one of: " + ", ".join(RULE_SELECTORS)))
            if rule.get("host") == "any" and ("group" in rule or "groups" in rule):
                # nebula#1511: `host: any` next to group matching silently matches everyone.
                found.append(
                    doc.diag(
                        f"{at}.host", "'any' cannot be combined with group or groups (nebula#1511); drop one"
                    )
                )
            port = rule.get("port")
            if isinstance(port, str) and "-" in port:
                low, high = (int(p) for p in port.split("-"))
                if not 1 <= low <= high <= 65535:
                    found.append(
                        doc.diag(f"{at}.port", f"{port!r} is not a range from low to high within 1-65535")
                    )
            elif isinstance(port, str) and port.isdigit() and not 1 <= int(port) <= 65535:
                found.append(doc.diag(f"{at}.port", f"{port!r} is not a port within 1-65535"))
            if "cidr" in rule:
                try:
                    ipaddress.IPv4Network(rule["cidr"])
                except ValueError as exc:
                    found.append(doc.diag(f"{at}.cidr", f"not an IPv4 network: {exc}"))
    return found


def _network(col: _Collector, root: Path) -> tuple[Network, Document] | None:
    path = root / "network.yml"
    if not path.is_file():
        raise UserError(f"{path}: not found (is {root} an inventory? `cryptic-net init` makes one)")
    doc = col.load(path, "network.schema.json")
    if doc is None:
        return None
    raw = doc.data
    ok = True
    try:
        cidr = ipaddress.IPv4Network(raw["cidr"])
    except ValueError as exc:
        col.errors.append(doc.diag("$.cidr", f"not an IPv4 network: {exc}"))
        ok = False
    else:
        if cidr.prefixlen > 30:
            col.errors.append(
                doc.diag("$.cidr", "prefix must be /30 or shorter: the network needs room for hosts")
            )
            ok = False
    for i, upstream in enumerate(raw.get("defaults", {}).get("dns_upstreams", [])):
        try:
            ipaddress.ip_address(upstream)
        except ValueError:
            col.errors.append(
                doc.diag(f"$.defaults.dns_upstreams[{i}]", f"{upstream!r} is not an IP address")
            )
    rule_problems = _rule_errors(doc, "$.defaults.firewall", raw.get("defaults", {}).get("firewall"))
    col.errors += rule_problems
    ca = _inside(root, doc, "$.ca", root, raw["ca"])
    if isinstance(ca, Diagnostic):
        col.errors.append(ca)
        ok = False
    if not ok or rule_problems:
        return None
    assert isinstance(ca, Path)
    defaults = raw.get("defaults", {})
    network = Network(
        name=raw["name"],
        cidr=cidr,
        domain=raw.get("domain", f"{raw['name']}.internal"),
        ca=ca,
        lighthouse_port=raw.get("lighthouse_port", DEFAULT_LIGHTHOUSE_PORT),
        mtu=defaults.get("mtu", DEFAULT_MTU),
        dns_upstreams=tuple(defaults.get("dns_upstreams", ())),
        firewall=_firewall(defaults.get("firewall")),
    )
    return network, doc


def _host_file_errors(root: Path, col: _Collector) -> list[Path]:
    hosts_dir = root / "hosts"
    if not hosts_dir.is_dir():
        return []
    files = []
    for path in sorted(hosts_dir.iterdir()):
        display = _display(root, path)
        if path.suffix == ".yaml":
            col.errors.append(
                Diagnostic(display, 1, 1, "$", "host files must end in .yml (only *.yml are built)")
            )
        elif path.suffix == ".yml":
            if not HOSTNAME.match(path.stem):
                col.errors.append(
                    Diagnostic(
                        display,
                        1,
                        1,
                        "$",
                        f"host name {path.stem!r} (the file name) must be lowercase letters, digits and "
                        "hyphens, start with a letter, not end with a hyphen, at most 63 characters",
                    )
                )
            else:
                files.append(path)
    return files


@dataclass
class _RawHost:
    name: str
    doc: Document
    ip: ipaddress.IPv4Address


def _host_ip(col: _Collector, network: Network | None, doc: Document) -> ipaddress.IPv4Address | None:
    try:
        ip = ipaddress.IPv4Address(doc.data["ip"])
    except ValueError as exc:
        col.errors.append(doc.diag("$.ip", f"not an IPv4 address: {exc}"))
        return None
    if network is not None:
        cidr = network.cidr
        if ip not in cidr:
            col.errors.append(doc.diag("$.ip", f"{ip} is outside the network {cidr}"))
            return None
        if ip in (cidr.network_address, cidr.broadcast_address):
            what = "network" if ip == cidr.network_address else "broadcast"
            col.errors.append(doc.diag("$.ip", f"{ip} is the {what} address of {cidr}"))
            return None
    return ip


def _cert_checks(  # noqa: C901, PLR0913, PLR0917 (one list of rules, in the order the user meets them)
    col: _Collector,
    root: Path,
    network: Network,
    ca_info: certs.CertInfo | None,
    raw: _RawHost,
    cert: Path,
    now: datetime,
) -> None:
    doc = raw.doc
    at = "$.cert" if "cert" in doc.data else "$"
    try:
        info = certs.cert_info(cert)
    except certs.CertError as exc:
        col.errors.append(doc.diag(at, f"{_display(root, cert)}: not a nebula certificate: {exc}"))
        return
    if info.is_ca:
        col.errors.append(doc.diag(at, f"{_display(root, cert)} is a CA certificate, not a host certificate"))
        return
    if ca_info is not None and info.issuer != ca_info.fingerprint:
        col.errors.append(
            doc.diag(
                at, f"{_display(root, cert)} is not signed by the network CA ({_display(root, network.ca)})"
            )
        )
        return
    if ca_info is not None:
        reason = certs.verify(network.ca, cert)
        if reason is not None and info.not_after > now:
            col.errors.append(
                doc.diag(at, f"{_display(root, cert)} does not verify against the network CA: {reason}")
            )
    if info.name != raw.name:
        col.errors.append(
            doc.diag(at, f"certificate name is {info.name!r}, expected {raw.name!r} (the file name)")
        )
    # Where the certificate is this host's own, a new one for the same key is the fix.
    renew = f" (`cryptic-net renew {raw.name}` signs a new one)" if info.name == raw.name else ""
    expected_net = f"{raw.ip}/{network.cidr.prefixlen}"
    if info.networks[:1] != (expected_net,):
        got = ", ".join(info.networks) or "none"
        col.errors.append(doc.diag("$.ip", f"certificate has IP {got}, expected {expected_net}{renew}"))
    yaml_groups = sorted(doc.data.get("groups", []))
    if sorted(info.groups) != yaml_groups:
        col.errors.append(
            doc.diag(
                "$.groups" if "groups" in doc.data else at,
                f"certificate groups are [{', '.join(sorted(info.groups))}], "
                f"the file says [{', '.join(yaml_groups)}]{renew}",
            )
        )
    stamp = info.not_after.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if info.not_after <= now:
        col.errors.append(doc.diag(at, f"certificate expired on {stamp}{renew}"))
    elif info.not_before > now:
        col.errors.append(doc.diag(at, "certificate is not valid yet (notBefore is in the future)"))
    elif info.not_after - now <= EXPIRY_WARNING:
        col.warnings.append(
            doc.diag(at, f"certificate expires on {stamp}, within 30 days{renew}", warning=True)
        )
    if ca_info is not None and info.not_after > ca_info.not_after:
        col.errors.append(doc.diag(at, "certificate outlives the network CA"))


def _ca_info(
    col: _Collector, root: Path, network: Network, doc: Document, now: datetime
) -> certs.CertInfo | None:
    try:
        info = certs.cert_info(network.ca)
    except certs.CertError as exc:
        col.errors.append(doc.diag("$.ca", f"{_display(root, network.ca)}: not a nebula certificate: {exc}"))
        return None
    if not info.is_ca:
        col.errors.append(doc.diag("$.ca", f"{_display(root, network.ca)} is not a CA certificate"))
        return None
    if info.not_after <= now:
        stamp = info.not_after.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        col.errors.append(doc.diag("$.ca", f"the network CA expired on {stamp}"))
    return info


def _scan_ca_keys(col: _Collector, root: Path) -> None:
    """A CA private key must never be in the tree: it would end up in the Nix store."""
    seen = 0
    for top, dirnames, filenames in os.walk(root):
        directory = Path(top)
        dirnames[:] = sorted(d for d in dirnames if d not in SCAN_SKIP and not d.startswith("result"))
        for name in sorted(filenames):
            path = directory / name
            seen += 1
            if seen > SCAN_MAX_FILES:
                return
            try:
                if path.is_symlink() or path.stat().st_size > SCAN_MAX_FILE:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            match = CA_KEY_BANNER.search(data)
            if match:
                line = data[: match.start()].count(b"\n") + 1
                col.errors.append(
                    Diagnostic(
                        _display(root, path),
                        line,
                        1,
                        "$",
                        "a nebula CA private key must not be in the inventory: "
                        "move it somewhere safe, outside this tree",
                    )
                )


def _now() -> datetime:
    return datetime.now(UTC)


def load_inventory(root: Path, now: datetime | None = None) -> Inventory:  # noqa: C901, PLR0912, PLR0915
    root = root.absolute()
    now = now or _now()
    col = _Collector(root)
    loaded = _network(col, root)
    network, net_doc = loaded or (None, None)

    raws: list[_RawHost] = []
    # While a host file is unreadable, its name and groups are unknown: claims that something
    # does not exist would be guesses, so those checks wait until every host file loads.
    incomplete = False
    for path in _host_file_errors(root, col):
        doc = col.load(path, "host.schema.json")
        if doc is None:
            incomplete = True
            continue
        col.errors += _rule_errors(doc, "$.firewall", doc.data.get("firewall"))
        ip = _host_ip(col, network, doc)
        if ip is None:
            incomplete = True
        else:
            raws.append(_RawHost(path.stem, doc, ip))
    _scan_ca_keys(col, root)

    by_name = {r.name: r for r in raws}
    lighthouses = [r.name for r in raws if "lighthouse" in r.doc.data]
    relays = {r.name for r in raws if r.doc.data.get("relay")}
    all_groups = {g for r in raws for g in r.doc.data.get("groups", [])}
    names_taken: dict[str, str] = {r.name: r.name for r in raws}
    ips_taken: dict[ipaddress.IPv4Address, _RawHost] = {}

    if net_doc is not None and not lighthouses and raws and not incomplete:
        col.errors.append(
            net_doc.diag("$", "no host is a lighthouse: give one host `lighthouse: {endpoints: [...]}`")
        )

    for raw in raws:
        doc, data = raw.doc, raw.doc.data
        if raw.ip in ips_taken:
            first = ips_taken[raw.ip]
            line, col_ = first.doc.where("$.ip")
            col.errors.append(
                doc.diag("$.ip", f"{raw.ip} is already used by {first.name} ({first.doc.file}:{line}:{col_})")
            )
        else:
            ips_taken[raw.ip] = raw
        for i, alias in enumerate(data.get("aliases", [])):
            owner = names_taken.get(alias)
            if owner is not None:
                what = "a host" if owner == alias else f"an alias of {owner}"
                col.errors.append(doc.diag(f"$.aliases[{i}]", f"{alias!r} is already {what}"))
            else:
                names_taken[alias] = raw.name
        is_lighthouse = "lighthouse" in data
        if is_lighthouse:
            if "lighthouses" in data:
                col.errors.append(
                    doc.diag(
                        "$.lighthouses",
                        "a lighthouse does not use other lighthouses; remove this list",
                        key=True,
                    )
                )
            if data.get("listen_port") == 0:
                col.errors.append(doc.diag("$.listen_port", "a lighthouse needs a fixed port, not 0"))
            for i, endpoint in enumerate(data["lighthouse"]["endpoints"]):
                port = int(endpoint.rsplit(":", 1)[1])
                if not 1 <= port <= 65535:
                    col.errors.append(
                        doc.diag(f"$.lighthouse.endpoints[{i}]", f"port {port} is not within 1-65535")
                    )
        for i, name in enumerate(data.get("lighthouses", [])):
            if name not in by_name and incomplete:
                continue
            if name not in by_name:
                col.errors.append(doc.diag(f"$.lighthouses[{i}]", f"no host named {name!r}"))
            elif name not in lighthouses:
                col.errors.append(doc.diag(f"$.lighthouses[{i}]", f"{name!r} is not a lighthouse"))
        for i, name in enumerate(data.get("relays", [])):
            if name not in by_name and incomplete:
                continue
            if name == raw.name:
                col.errors.append(doc.diag(f"$.relays[{i}]", "a host cannot be its own relay"))
            elif name not in by_name:
                col.errors.append(doc.diag(f"$.relays[{i}]", f"no host named {name!r}"))
            elif name not in relays:
                col.errors.append(
                    doc.diag(f"$.relays[{i}]", f"{name!r} is not a relay (it needs `relay: true`)")
                )

    # Every group a rule names must exist on some host, or the rule can never match.
    rule_docs = [(r.doc, r.doc.data.get("firewall"), "$.firewall") for r in raws]
    if net_doc is not None:
        rule_docs.append((net_doc, net_doc.data.get("defaults", {}).get("firewall"), "$.defaults.firewall"))
    for doc, fw, base in rule_docs if not incomplete else ():
        for direction in ("inbound", "outbound"):
            for i, rule in enumerate((fw or {}).get(direction, [])):
                at = f"{base}.{direction}[{i}]"
                named = [(f"{at}.group", rule["group"])] if "group" in rule else []
                named += [(f"{at}.groups[{j}]", g) for j, g in enumerate(rule.get("groups", []))]
                for where, group in named:
                    if group not in all_groups:
                        col.errors.append(doc.diag(where, f"group {group!r} is not on any host"))

    hosts: list[Host] = []
    if network is not None and net_doc is not None:
        ca_info = _ca_info(col, root, network, net_doc, now)
        for raw in raws:
            doc, data = raw.doc, raw.doc.data
            hosts_dir = root / "hosts"
            cert = _inside(
                root, doc, "$.cert" if "cert" in data else "$", hosts_dir, data.get("cert", f"{raw.name}.crt")
            )
            if isinstance(cert, Diagnostic):
                col.errors.append(cert)
                continue
            _cert_checks(col, root, network, ca_info, raw, cert, now)
            key_file: Path | None = None
            key_path: str | None = None
            key = data.get("key", {"path": default_key_path(network.name)})
            if "file" in key:
                found = _inside(root, doc, "$.key.file", hosts_dir, key["file"])
                if isinstance(found, Diagnostic):
                    col.errors.append(found)
                    continue
                if not HOST_KEY_BANNER.search(found.read_bytes()[:SCAN_MAX_FILE]):
                    col.errors.append(
                        doc.diag("$.key.file", f"{key['file']!r} is not a nebula host private key")
                    )
                    continue
                key_file = found
            else:
                key_path = key["path"]
            is_lighthouse = "lighthouse" in data
            hosts.append(
                Host(
                    name=raw.name,
                    ip=raw.ip,
                    groups=tuple(data.get("groups", ())),
                    endpoints=tuple(data["lighthouse"]["endpoints"]) if is_lighthouse else (),
                    lighthouses=() if is_lighthouse else tuple(data.get("lighthouses", lighthouses)),
                    listen_port=data.get("listen_port", network.lighthouse_port if is_lighthouse else 0),
                    relay=bool(data.get("relay", False)),
                    relays=tuple(data.get("relays", ())),
                    cert=cert,
                    key_file=key_file,
                    key_path=key_path,
                    firewall=_firewall(data.get("firewall")),
                    aliases=tuple(data.get("aliases", ())),
                    mtu=data.get("mtu", network.mtu),
                )
            )

    if col.errors or network is None:
        raise ValidationFailed(col.errors + col.warnings)
    return Inventory(root, network, tuple(sorted(hosts, key=lambda h: h.name)), tuple(sorted(col.warnings)))


def load_network(root: Path) -> Network:
    """network.yml alone, for tools that run before the inventory is complete."""
    root = root.absolute()
    col = _Collector(root)
    loaded = _network(col, root)
    if col.errors or loaded is None:
        raise ValidationFailed(col.errors)
    return loaded[0]


def load_host(root: Path, name: str) -> Document:
    """hosts/NAME.yml alone, checked against the schema."""
    root = root.absolute()
    path = root / "hosts" / f"{name}.yml"
    if not HOSTNAME.match(name) or not path.is_file():
        raise UserError(f"{path}: no such host file")
    col = _Collector(root)
    doc = col.load(path, "host.schema.json")
    if doc is None:
        raise ValidationFailed(col.errors)
    return doc


def used_ips(root: Path) -> dict[ipaddress.IPv4Address, str]:
    """Overlay IPs the host files claim, readable or not yet valid."""
    col = _Collector(root.absolute())
    taken: dict[ipaddress.IPv4Address, str] = {}
    for path in _host_file_errors(root.absolute(), col):
        doc = col.load(path, "host.schema.json")
        if doc is not None:
            try:
                taken[ipaddress.IPv4Address(doc.data["ip"])] = path.stem
            except ValueError:
                continue
    return taken
