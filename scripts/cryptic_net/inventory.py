"""Load an inventory (network.yml plus hosts/*.yml) into the typed model, checking it.

The data flows one way: YAML (`yamlload`) -> schema (here) -> the files as typed objects
(`model.NetworkFile`, `model.HostFile`, holding every part that passed the schema) -> the named
checks (`cryptic_net.checks`) -> the validated model (`model.Inventory`). `load_inventory`
returns that model, or raises ValidationFailed with every error of every file, each located at
the YAML node it is about.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import re
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from cryptic_net import checks
from cryptic_net.checks.base import Context
from cryptic_net.checks.certs import EXPIRY_WARNING, HOST_KEY_BANNER
from cryptic_net.checks.revoked import revoked_entries
from cryptic_net.checks.secrets import CA_KEY_BANNER
from cryptic_net.errors import Diagnostic, UserError, ValidationFailed
from cryptic_net.model import (
    DEFAULT_ARCH,
    DEFAULT_LIGHTHOUSE_PORT,
    DEFAULT_MTU,
    HOSTNAME,
    PRUNED,
    RULE_SELECTORS,
    RUNTIME_KEY_DIR,
    Firewall,
    Host,
    HostFile,
    Inventory,
    Network,
    NetworkFile,
    Rule,
    default_key_path,
    items,
    rule,
    valid_host_name,
)
from cryptic_net.paths import display, inside
from cryptic_net.yamlload import Document, LoadError, json_path, load_file

if TYPE_CHECKING:
    from pathlib import Path

    import jsonschema
    from jsonschema.exceptions import ValidationError

__all__ = [
    "CA_KEY_BANNER",
    "DEFAULT_LIGHTHOUSE_PORT",
    "DEFAULT_MTU",
    "EXPIRY_WARNING",
    "HOSTNAME",
    "HOST_KEY_BANNER",
    "RULE_SELECTORS",
    "RUNTIME_KEY_DIR",
    "Firewall",
    "Host",
    "Inventory",
    "Network",
    "Rule",
    "default_key_path",
    "load_host",
    "load_inventory",
    "load_network",
    "schema_errors",
    "schema_text",
    "used_ips",
]

# Host fields that say what exists (names, groups, roles): while one failed the schema,
# the checks that claim something does not exist would guess, so they wait.
_IDENTITY = ("groups", "lighthouse", "relay")


# --- schema ----------------------------------------------------------------------------


def schema_text(name: str) -> str:
    return resources.files("cryptic_net").joinpath("schema", name).read_text(encoding="utf-8")


@functools.cache
def _pattern_re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _full_pattern(
    validator: jsonschema.protocols.Validator, pattern: str, instance: Any, schema: dict[str, Any]
) -> Any:
    """`pattern`, matched against the whole string: JSON Schema's own `pattern` searches, and a
    pattern's `$` also matches before a final newline, so `"alpha\\n"` passed `^[a-z]+$`."""
    from jsonschema.exceptions import ValidationError  # noqa: PLC0415 (see _validator)

    del schema
    if validator.is_type(instance, "string") and _pattern_re(pattern).fullmatch(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _inline(node: Any, schemas: dict[str, Any], here: str) -> Any:
    """`node` with every `$ref` replaced by what it points to (our schemas are not recursive):
    resolving references while validating cost more than the validation itself."""
    if isinstance(node, list):
        return [_inline(v, schemas, here) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        where, _, pointer = node["$ref"].partition("#")
        where = where or here
        target: Any = schemas[where]
        for part in pointer.strip("/").split("/") if pointer else []:
            target = target[part]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**target, **rest}, schemas, where)
    return {k: _inline(v, schemas, here) for k, v in node.items()}


@functools.cache
def _validator(name: str) -> Any:
    """Built once per process and schema: building one costs more than validating a host file.

    jsonschema is imported here, not at the top: importing it costs more than rendering a host
    from a network description (`appdir --description`, once per host in a Nix build), which
    never validates a file.
    """
    import jsonschema  # noqa: PLC0415

    validator_class = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft202012Validator, {"pattern": _full_pattern}
    )
    names = ("network.schema.json", "host.schema.json", "revoked.schema.json")
    schemas = {n: json.loads(schema_text(n)) for n in names}
    inlined = _inline(schemas[name], schemas, name)
    inlined.pop("$defs", None)
    return validator_class(inlined)


def _error_path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path = json_path(path, part)
    return path


def _schema_problems(doc: Document, schema: str) -> tuple[list[Diagnostic], list[tuple[Any, ...]]]:
    """Located schema errors, and the parts of the data they are about (to leave out)."""
    found: list[Diagnostic] = []
    cuts: list[tuple[Any, ...]] = []
    for error in _validator(schema).iter_errors(doc.data):
        path = _error_path(error)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = sorted(error.schema.get("properties", {}))
            for key in error.instance:
                if key not in allowed:
                    child = json_path(path, key)
                    expected = ", ".join(allowed)
                    found.append(doc.diag(child, f"unknown key (expected one of: {expected})", key=True))
                    cuts.append((*error.absolute_path, key))
            continue
        found.append(doc.diag(*_explain(error)))
        cuts.append(tuple(error.absolute_path))
    return found, cuts


def schema_errors(doc: Document, schema: str) -> list[Diagnostic]:
    return _schema_problems(doc, schema)[0]


def _explain(error: ValidationError) -> tuple[str, str]:
    """Path and message of a schema error, in the user's terms."""
    from jsonschema.exceptions import best_match  # noqa: PLC0415 (see _validator)

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


def _prune(data: Any, cuts: list[tuple[Any, ...]]) -> Any:
    """`data` without the parts that failed the schema (list items become PRUNED, so that the
    others keep their index and their errors their location). None when the whole is bad."""
    if not cuts:
        return data
    if any(cut == () for cut in cuts):
        return None
    data = copy.deepcopy(data)
    for cut in cuts:
        parent = data
        for part in cut[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                break
        else:
            last = cut[-1]
            if isinstance(parent, list) and isinstance(last, int) and last < len(parent):
                parent[last] = PRUNED
            elif isinstance(parent, dict):
                parent.pop(last, None)
    return data


# --- loading ---------------------------------------------------------------------------


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.errors: list[Diagnostic] = []

    def load(self, path: Path, schema: str) -> tuple[Document, Any, bool] | None:
        """The document, its data without the parts that failed the schema, and whether none did."""
        shown = display(self.root, path)
        try:
            if path.is_symlink() and not path.resolve().is_relative_to(self.root.resolve()):
                self.errors.append(
                    Diagnostic(shown, 1, 1, "$", f"symlink points outside the inventory ({path.resolve()})")
                )
                return None
            doc = load_file(shown, path)
        except LoadError as exc:
            self.errors.append(exc.diagnostic)
            return None
        except (OSError, ValueError) as exc:
            self.errors.append(Diagnostic(shown, 1, 1, "$", f"cannot be read: {exc}"))
            return None
        if doc.data is None:
            doc.data = {}
        problems, cuts = _schema_problems(doc, schema)
        self.errors += problems
        pruned = _prune(doc.data, cuts)
        if pruned is None:
            return None
        return doc, pruned, not problems

    def network(self) -> NetworkFile | None:
        path = self.root / "network.yml"
        if not path.is_file():
            raise UserError(f"{path}: not found (is {self.root} an inventory? `cryptic-net init` makes one)")
        loaded = self.load(path, "network.schema.json")
        return NetworkFile(*loaded) if loaded is not None else None

    def host_entries(self) -> list[Path]:
        hosts_dir = self.root / "hosts"
        return sorted(hosts_dir.iterdir(), key=lambda p: p.name) if hosts_dir.is_dir() else []

    def hosts(self, entries: list[Path], network: NetworkFile | None) -> tuple[list[HostFile], bool]:
        hosts: list[HostFile] = []
        complete = True
        for path in entries:
            if path.suffix != ".yml":
                continue
            if not valid_host_name(path.stem):
                complete = False  # the `hostname` check says why
                continue
            loaded = self.load(path, "host.schema.json")
            if loaded is None:
                complete = False
                continue
            doc, data, _ = loaded
            if any(k in doc.data and k not in data for k in _IDENTITY) or len(
                list(items(doc.data.get("groups")))
            ) != len(list(items(data.get("groups")))):
                complete = False
            hosts.append(HostFile(path.stem, doc, data, complete=loaded[2], network=network))
        return hosts, complete


def _now() -> datetime:
    return datetime.now(UTC)


def context(root: Path, now: datetime | None = None) -> tuple[Context, list[Diagnostic]]:
    """The inventory as loaded (every part that passed the schema), and the load errors."""
    root = root.absolute()
    loader = _Loader(root)
    network = loader.network()
    entries = loader.host_entries()
    hosts, complete = loader.hosts(entries, network)
    ctx = Context(root, now or _now(), network, hosts, complete, entries)
    return ctx, loader.errors


def load_inventory(root: Path, now: datetime | None = None) -> Inventory:
    """Load, check, and build the model; ValidationFailed with every error of every file."""
    ctx, errors = context(root, now)
    found = errors + checks.run(ctx)
    # `ignore_warnings` silences named warnings; an error always shows. While network.yml
    # cannot be read, what it silences is unknown: warnings wait, as guessing checks do.
    if ctx.network is None:
        found = [d for d in found if d.severity == "error"]
    else:
        ignored = set(ctx.network.data.get("ignore_warnings") or ())
        found = [d for d in found if d.severity == "error" or d.check not in ignored]
    problems = [d for d in found if d.severity == "error"]
    warnings = sorted(d for d in found if d.severity == "warning")
    if problems or ctx.network is None:
        raise ValidationFailed(found)
    network = _network(ctx, ctx.network)
    lighthouses = tuple(h.name for h in ctx.hosts if h.is_lighthouse)
    relays = tuple(h.name for h in ctx.hosts if h.relay)
    hosts = tuple(_host(ctx, network, h, lighthouses, relays) for h in ctx.hosts)
    return Inventory(
        ctx.root,
        network,
        tuple(sorted(hosts, key=lambda h: h.name)),
        tuple(warnings),
        revoked=revoked_entries(ctx),
    )


# --- the model, from files that passed every check -----------------------------------------


def _firewall(raw: Any) -> Firewall:
    raw = raw if isinstance(raw, dict) else {}
    return Firewall(
        tuple(rule(r) for _, r in items(raw.get("inbound"))),
        tuple(rule(r) for _, r in items(raw.get("outbound"))),
    )


def _network(ctx: Context, net: NetworkFile) -> Network:
    data = net.data
    cidr = net.cidr
    cas = tuple(ca.path for ca in ctx.ca_files() if ca.path is not None)
    assert cidr is not None
    assert cas
    defaults = net.defaults
    return Network(
        name=data["name"],
        cidr=cidr,
        domain=data.get("domain", f"{data['name']}.internal"),
        ca=cas[0],
        lighthouse_port=data.get("lighthouse_port", DEFAULT_LIGHTHOUSE_PORT),
        mtu=defaults.get("mtu", DEFAULT_MTU),
        dns_upstreams=tuple(defaults.get("dns_upstreams", ())),
        firewall=_firewall(defaults.get("firewall")),
        cas=cas,
    )


def _host(
    ctx: Context, network: Network, host: HostFile, lighthouses: tuple[str, ...], relays: tuple[str, ...]
) -> Host:
    data = host.data
    cert = ctx.host_cert(host).path
    ip = host.ip
    assert cert is not None
    assert ip is not None
    key = data.get("key", {"path": default_key_path(network.name)})
    key_file = ctx.resolve("$.key.file", ctx.root / "hosts", key["file"]).path if "file" in key else None
    return Host(
        name=host.name,
        ip=ip,
        groups=tuple(host.groups),
        endpoints=tuple(e for _, e in host.endpoints),
        lighthouses=() if host.is_lighthouse else tuple(data.get("lighthouses", lighthouses)),
        # Every host listens on the network's port by default (issue 14): a restarted nebula
        # is back on the port its peers' tunnels use; 0 (any) only when a host asks for it.
        listen_port=data.get("listen_port", network.lighthouse_port),
        relay=host.relay,
        # Like `lighthouses`: every relay of the network unless the file says which.
        relays=tuple(data.get("relays", [r for r in relays if r != host.name])),
        cert=cert,
        key_file=key_file,
        key_path=None if key_file is not None else key["path"],
        firewall=_firewall(data.get("firewall")),
        aliases=tuple(data.get("aliases", ())),
        mtu=data.get("mtu", network.mtu),
        arch=data.get("arch", DEFAULT_ARCH),
    )


# --- for the tooling: parts of an inventory that may not be complete yet ---------------------


def load_network(root: Path) -> Network:
    """network.yml alone, for tools that run before the inventory is complete."""
    root = root.absolute()
    loader = _Loader(root)
    net = loader.network()
    ctx = Context(root, _now(), net, [], complete=False)
    scoped = [c for c in checks.CHECKS if c.scope == "network" or c.concern == "firewall"]
    found = loader.errors + [d for d in checks.run(ctx, scoped) if d.severity == "error"]
    if found or net is None:
        raise ValidationFailed(found)
    return _network(ctx, net)


def load_host(root: Path, name: str) -> Document:
    """hosts/NAME.yml alone, checked against the schema."""
    root = root.absolute()
    path = root / "hosts" / f"{name}.yml"
    if not valid_host_name(name) or not path.is_file():
        raise UserError(f"{path}: no such host file")
    loader = _Loader(root)
    loaded = loader.load(path, "host.schema.json")
    if loaded is None or loader.errors:
        raise ValidationFailed(loader.errors)
    return loaded[0]


def used_ips(root: Path) -> dict[ipaddress.IPv4Address, str]:
    """Overlay IPs the host files claim, readable or not yet valid."""
    loader = _Loader(root.absolute())
    taken: dict[ipaddress.IPv4Address, str] = {}
    for path in loader.host_entries():
        if path.suffix != ".yml" or not valid_host_name(path.stem):
            continue
        loaded = loader.load(path, "host.schema.json")
        if loaded is not None:
            try:
                taken[ipaddress.IPv4Address(loaded[1]["ip"])] = path.stem
            except (KeyError, ValueError):
                continue
    return taken


def _inside(root: Path, doc: Document, at: str, base: Path, value: str) -> Path | Diagnostic:
    """Kept for the tooling: `value` resolved inside the inventory, or a located error."""
    found = inside(root, base, value)
    return doc.diag(at, found) if isinstance(found, str) else found
