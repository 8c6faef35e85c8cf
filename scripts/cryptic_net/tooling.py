"""Certificate tooling: `init` makes a network, `new-host` adds a signed host."""

from __future__ import annotations

import ipaddress
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptic_net import certs
from cryptic_net.errors import UserError, ValidationFailed
from cryptic_net.inventory import (
    HOSTNAME,
    Network,
    default_key_path,
    load_host,
    load_inventory,
    load_network,
    schema_errors,
    used_ips,
)
from cryptic_net.yamlload import LoadError, load_text

DEFAULT_CA_DURATION = "175200h"  # 20 years: host certificates can never outlive their CA
SCHEMA_LINE = "# yaml-language-server: $schema={}\n"


def _outside(root: Path, path: Path, what: str) -> Path:
    resolved = path.expanduser().resolve()
    if resolved.is_relative_to(root.resolve()):
        raise UserError(
            f"{path}: the {what} must live outside the inventory ({root}), or it ends up in the Nix store"
        )
    return resolved


def _atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _schema_ref(root: Path, yaml_file: Path, schema: str) -> str:
    # Relative when the package lives in the inventory (this repository), else the installed
    # copy; `cryptic-net schema NAME` prints it too.
    local = (Path(__file__).parent / "schema" / schema).resolve()
    if local.is_relative_to(root.resolve()):
        return os.path.relpath(local, yaml_file.parent.resolve())
    return str(local)


@dataclass(frozen=True)
class InitOptions:
    root: Path
    name: str
    cidr: str
    domain: str | None
    ca_dir: Path | None
    ca_duration: str
    lighthouse_port: int | None


def init(opts: InitOptions) -> int:
    root = opts.root.absolute()
    network_file = root / "network.yml"
    if network_file.exists():
        raise UserError(f"{network_file}: already exists; this directory has a network")
    lines = [SCHEMA_LINE.format(_schema_ref(root, network_file, "network.schema.json"))]
    lines.append(f"name: {opts.name}\ncidr: {opts.cidr}\n")
    if opts.domain:
        lines.append(f"domain: {opts.domain}\n")
    lines.append("ca: ca.crt\n")
    if opts.lighthouse_port:
        lines.append(f"lighthouse_port: {opts.lighthouse_port}\n")
    lines.append(
        "defaults:\n  mtu: 1300\n  firewall:\n    outbound:\n      - {port: any, proto: any, host: any}\n"
        "    inbound:\n      - {port: any, proto: icmp, host: any}\n"
    )
    text = "".join(lines)
    try:
        doc = load_text("network.yml", text)
    except LoadError as exc:
        raise UserError(f"invalid --name, --cidr or --domain ({exc.diagnostic.message})") from None
    problems = schema_errors(doc, "network.schema.json")
    if problems:
        raise ValidationFailed(problems)
    try:
        cidr = ipaddress.IPv4Network(opts.cidr)
    except ValueError as exc:
        raise UserError(f"--cidr: not an IPv4 network: {exc}") from None
    if cidr.prefixlen > 30:
        raise UserError("--cidr: prefix must be /30 or shorter")

    ca_dir = _outside(root, opts.ca_dir or Path(f"~/.local/share/cryptic-net/{opts.name}-ca"), "CA directory")
    if (ca_dir / "ca.key").exists():
        raise UserError(f"{ca_dir / 'ca.key'}: a CA already exists there; pass another --ca-dir")
    ca_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=".ca.", dir=ca_dir))
    try:
        certs.make_ca(f"{opts.name} cryptic-net CA", opts.ca_duration, staging / "ca.crt", staging / "ca.key")
        (staging / "ca.key").chmod(0o600)
        (staging / "ca.key").rename(ca_dir / "ca.key")
        shutil.copyfile(staging / "ca.crt", ca_dir / "ca.crt")
        root.mkdir(parents=True, exist_ok=True)
        (root / "hosts").mkdir(exist_ok=True)
        _atomic_write(root / "ca.crt", (staging / "ca.crt").read_bytes())
        _atomic_write(network_file, text.encode())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"created network {opts.name} ({opts.cidr}) in {root}")
    print(f"CA certificate: {root / 'ca.crt'}")
    print(
        f"warning: the CA private key is {ca_dir / 'ca.key'}. Anyone holding it can join hosts to "
        "your network: keep it offline or encrypted, back it up, never commit it.",
        file=sys.stderr,
    )
    print(
        "next: cryptic-net new-host NAME --lighthouse HOST:PORT "
        f"--ca-crt {root / 'ca.crt'} --ca-key {ca_dir / 'ca.key'}"
    )
    return 0


@dataclass(frozen=True)
class NewHostOptions:
    root: Path
    name: str
    ip: str | None
    groups: list[str]
    lighthouse: list[str]
    relay: bool
    bake_key: bool
    key_path: str | None
    key_out: Path | None
    ca_crt: Path
    ca_key: Path
    duration: str | None


def _pick_ip(
    cidr: ipaddress.IPv4Network, taken: dict[ipaddress.IPv4Address, str], wanted: str | None
) -> ipaddress.IPv4Address:
    if wanted is not None:
        try:
            ip = ipaddress.IPv4Address(wanted)
        except ValueError as exc:
            raise UserError(f"--ip: {exc}") from None
        if ip not in cidr or ip in (cidr.network_address, cidr.broadcast_address):
            raise UserError(f"--ip: {ip} is not a host address of {cidr}")
        if ip in taken:
            raise UserError(f"--ip: {ip} is already used by {taken[ip]}")
        return ip
    for ip in cidr.hosts():
        if ip not in taken:
            return ip
    raise UserError(f"no free address left in {cidr}")


def _host_yaml(opts: NewHostOptions, root: Path, ip: ipaddress.IPv4Address, key_line: str) -> str:
    yml = root / "hosts" / f"{opts.name}.yml"
    out = [SCHEMA_LINE.format(_schema_ref(root, yml, "host.schema.json")), f"ip: {ip}\n"]
    if opts.groups:
        out.append("groups: [" + ", ".join(opts.groups) + "]\n")
    if opts.lighthouse:
        out.append("lighthouse:\n  endpoints:\n" + "".join(f'    - "{e}"\n' for e in opts.lighthouse))
    if opts.relay:
        out.append("relay: true\n")
    out.append(f"cert: {opts.name}.crt\n")
    out.append(key_line)
    return "".join(out)


def new_host(opts: NewHostOptions) -> int:
    root = opts.root.absolute()
    if not HOSTNAME.match(opts.name):
        raise UserError(
            f"{opts.name!r}: a host name is lowercase letters, digits and hyphens, "
            "starts with a letter, at most 63 characters"
        )
    yml = root / "hosts" / f"{opts.name}.yml"
    if yml.exists():
        raise UserError(f"{yml}: already exists")
    network = load_network(root)
    ca_key = _signing_key(root, network, opts.ca_crt, opts.ca_key)
    ip = _pick_ip(network.cidr, used_ips(root), opts.ip)
    for endpoint in opts.lighthouse:
        host_part, _, port = endpoint.rpartition(":")
        if not host_part or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise UserError(f"--lighthouse {endpoint!r}: expected HOST:PORT")

    runtime = opts.key_path or default_key_path(network.name)
    if opts.bake_key:
        key_line = f"key:\n  file: {opts.name}.key  # baked into the binary\n"
        key_out = root / "hosts" / f"{opts.name}.key"
    else:
        key_line = f"key:\n  path: {runtime}  # read on the host at run time\n"
        key_out = _outside(root, opts.key_out or ca_key.parent / f"{opts.name}.key", "host key")
        if key_out.exists():
            raise UserError(f"{key_out}: already exists")
    text = _host_yaml(opts, root, ip, key_line)
    try:
        doc = load_text(str(yml.relative_to(root)), text)
    except LoadError as exc:
        raise UserError(exc.diagnostic.message) from None
    problems = schema_errors(doc, "host.schema.json")
    if problems:
        raise ValidationFailed(problems)

    staging = Path(tempfile.mkdtemp(prefix=f".{opts.name}.", dir=root / "hosts"))
    try:
        certs.sign(
            opts.ca_crt,
            ca_key,
            opts.name,
            f"{ip}/{network.cidr.prefixlen}",
            opts.groups,
            staging / "host.crt",
            out_key=staging / "host.key",
            duration=opts.duration,
        )
        key_out.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(key_out, (staging / "host.key").read_bytes(), 0o600)
        _atomic_write(root / "hosts" / f"{opts.name}.crt", (staging / "host.crt").read_bytes())
        _atomic_write(yml, text.encode())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"added host {opts.name} ({ip}): {yml}")
    if not opts.bake_key:
        print(f"its private key is {key_out}: copy it to {runtime} on {opts.name} (mode 0600)")
    _note_validation(root)
    return 0


def _signing_key(root: Path, network: Network, ca_crt: Path, ca_key: Path) -> Path:
    """The CA key, checked: outside the tree, and its certificate is the network's CA."""
    key = _outside(root, ca_key, "CA key")
    if not key.is_file():
        raise UserError(f"{ca_key}: not found")
    try:
        given, ours = certs.cert_info(ca_crt), certs.cert_info(network.ca)
    except certs.CertError as exc:
        raise UserError(f"--ca-crt {ca_crt}: {exc}") from None
    if given.fingerprint != ours.fingerprint:
        raise UserError(f"--ca-crt {ca_crt} is not the network CA ({network.ca})")
    return key


def _note_validation(root: Path) -> None:
    """After a change: say what still keeps the inventory from validating, if anything."""
    try:
        load_inventory(root)
    except ValidationFailed as exc:
        print("note: the inventory does not validate yet:", file=sys.stderr)
        print(exc, file=sys.stderr)


@dataclass(frozen=True)
class RenewOptions:
    root: Path
    name: str
    ca_crt: Path
    ca_key: Path
    duration: str | None


def renew(opts: RenewOptions) -> int:
    """Sign a new certificate for a host's existing public key, from its YAML (IP, groups).

    For a certificate near expiry, or after the host's `groups` or `ip` changed. The private
    key never has to be read, so this works for keys that live only on the host.
    """
    root = opts.root.absolute()
    network = load_network(root)
    doc = load_host(root, opts.name)
    ca_key = _signing_key(root, network, opts.ca_crt, opts.ca_key)
    ip = ipaddress.IPv4Address(doc.data["ip"])
    if ip not in network.cidr:
        raise UserError(f"{doc.file}: ip {ip} is outside the network {network.cidr}; fix it first")
    cert = (root / "hosts" / doc.data.get("cert", f"{opts.name}.crt")).resolve()
    if not cert.is_relative_to(root.resolve()):
        raise UserError(f"{doc.file}: the certificate {cert} is outside the inventory")
    try:
        old = certs.cert_info(cert)
    except certs.CertError as exc:
        raise UserError(f"{cert}: cannot read the certificate to renew: {exc}") from None
    if old.is_ca or old.name != opts.name or not old.public_key:
        raise UserError(f"{cert} is not {opts.name}'s certificate; make a new host instead")
    groups = list(doc.data.get("groups", []))
    staging = Path(tempfile.mkdtemp(prefix=f".{opts.name}.", dir=cert.parent))
    try:
        (staging / "host.pub").write_bytes(old.public_key_pem())
        certs.sign(
            opts.ca_crt,
            ca_key,
            opts.name,
            f"{ip}/{network.cidr.prefixlen}",
            groups,
            staging / "host.crt",
            in_pub=staging / "host.pub",
            duration=opts.duration,
        )
        new = certs.cert_info(staging / "host.crt")
        _atomic_write(cert, (staging / "host.crt").read_bytes())
    except certs.CertError as exc:
        raise UserError(f"nebula-cert wrote an unreadable certificate: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    until = new.not_after.strftime("%Y-%m-%d")
    print(
        f"renewed {cert.relative_to(root.resolve())}: {ip}/{network.cidr.prefixlen}, "
        f"groups [{', '.join(groups)}], valid until {until}; same key pair"
    )
    _note_validation(root)
    return 0
