"""The commands that change an inventory: init, new-host, sign, renew, remove, revoke, ca-add, ca-drop.

Every one of them works the same way (docs/lifecycle.md):

1. validate the inventory as it is and refuse an invalid one (exit 2, the located errors,
   nothing signed, nothing written); the only errors a command looks past are the ones it
   exists to fix (`renew` and `sign` of a host whose certificate does not match);
2. sign into a private staging directory outside the inventory (`tempfile.mkdtemp`, 0700);
3. apply every file change as one transaction: new files by exclusive creation (a file that
   appeared meanwhile is never replaced), changed files by rename, removed files renamed
   aside;
4. validate again; if the result does not validate, undo the transaction and exit 2;
5. stage the changed files in git when the inventory is a git work tree (a flake sees only
   tracked files), or say exactly what to `git add`.

Private keys that stay on the host go to a key directory of their own (never the CA's, never
inside the inventory); a leftover key of an earlier host of the same name is moved aside, not
overwritten, and does not block re-creating the host.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import os
import re
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptic_net import certs, checks
from cryptic_net.errors import UserError, ValidationFailed
from cryptic_net.git import git
from cryptic_net.inventory import (
    HOSTNAME,
    Inventory,
    Network,
    context,
    default_key_path,
    load_inventory,
    load_network,
    schema_errors,
    schema_text,
)
from cryptic_net.model import REVOKED_FILE, Revoked, default_key_dir
from cryptic_net.revocation import entry_yaml, load_revoked
from cryptic_net.yamlload import LoadError, load_file, load_text

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from cryptic_net.checks import Context

SCHEMA_LINE = "# yaml-language-server: $schema={}\n"
SCHEMA_DIR = ".schema"  # the schemas, copied into the inventory: editors find them in any clone
SCHEMAS = ("network.schema.json", "host.schema.json", "revoked.schema.json")


# --- paths and permissions -------------------------------------------------------------


def outside(root: Path, path: Path, what: str) -> Path:
    resolved = path.expanduser().resolve()
    if resolved.is_relative_to(root.resolve()):
        raise UserError(
            f"{path}: the {what} must live outside the inventory ({root}), or it ends up in the Nix store"
        )
    return resolved


def private_dir(path: Path, what: str) -> Path:
    """Create `path` (0700) or check an existing one: nobody else may write to it."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = path.stat()
    except OSError as exc:
        raise UserError(f"{path}: cannot create the {what}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise UserError(f"{path}: the {what} is not a directory")
    if info.st_mode & 0o022:
        raise UserError(
            f"{path}: others can write to the {what} (mode {info.st_mode & 0o777:04o}), so they could "
            f"replace what is written there: chmod 700 {path}, or choose another directory"
        )
    if info.st_uid not in {os.geteuid(), 0}:
        raise UserError(f"{path}: the {what} belongs to another user (uid {info.st_uid})")
    return path


def _warn_if_readable(key: Path) -> None:
    with contextlib.suppress(OSError):
        mode = key.stat().st_mode & 0o777
        if mode & 0o077:
            print(
                f"warning: {key} can be read by others (mode {mode:04o}): whoever reads it can add "
                f"hosts to your network; chmod 600 {key}",
                file=sys.stderr,
            )


def _schema_ref(root: Path, yaml_file: Path, schema: str) -> str:
    """Relative, so that it works in every clone: the package's copy when the package lives in
    the inventory (this repository), else the copy in ROOT/.schema/ that the commands keep."""
    local = (Path(__file__).parent / "schema" / schema).resolve()
    target = local if local.is_relative_to(root.resolve()) else root / SCHEMA_DIR / schema
    return os.path.relpath(target, yaml_file.parent)


# --- one transaction of file changes ---------------------------------------------------


def _write_temp(directory: Path, name: str, data: bytes, mode: int) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def create_exclusive(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a new file atomically; FileExistsError if anything is at `path` already.

    A hard link of a complete temporary file is both atomic and exclusive (link(2) never
    replaces). Where the file system has no hard links, O_EXCL (exclusive, not atomic).
    """
    tmp = _write_temp(path.parent, path.name, data, mode)
    try:
        os.link(tmp, path)
    except OSError as exc:
        if exc.errno not in {errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK}:
            raise
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    finally:
        tmp.unlink(missing_ok=True)


def _move_back(aside: Path, path: Path) -> None:
    aside.rename(path)


@dataclass
class Changes:
    """File changes applied all or nothing, and undone if the result does not validate."""

    root: Path
    creates: dict[Path, tuple[bytes, int]] = field(default_factory=dict)
    replaces: dict[Path, tuple[bytes, int]] = field(default_factory=dict)
    removes: list[Path] = field(default_factory=list)
    _done: list[Callable[[], None]] = field(default_factory=list)
    _aside: list[Path] = field(default_factory=list)

    def create(self, path: Path, data: bytes, mode: int = 0o644) -> None:
        self.creates[path] = (data, mode)

    def replace(self, path: Path, data: bytes, mode: int = 0o644) -> None:
        self.replaces[path] = (data, mode)

    def remove(self, path: Path) -> None:
        self.removes.append(path)

    def paths(self) -> list[Path]:
        return sorted({*self.creates, *self.replaces, *self.removes})

    def check(self) -> None:
        """Refuse before anything is signed: no new file may replace an existing one."""
        taken = [p for p in self.creates if p.exists() or p.is_symlink()]
        if taken:
            raise UserError(
                f"{taken[0]}: already exists; nothing was changed (remove it first if it is a leftover)"
            )

    def apply(self) -> None:
        try:
            for path, (data, mode) in self.creates.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                create_exclusive(path, data, mode)
                self._done.append(functools.partial(path.unlink, missing_ok=True))
            for path, (data, mode) in self.replaces.items():
                old = path.read_bytes()
                old_mode = path.stat().st_mode & 0o777
                tmp = _write_temp(path.parent, path.name, data, mode)
                tmp.replace(path)
                self._done.append(functools.partial(self._restore, path, old, old_mode))
            for path in self.removes:
                aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.removed.", dir=path.parent))
                path.rename(aside / path.name)
                self._aside.append(aside)
                self._done.append(functools.partial(_move_back, aside / path.name, path))
        except FileExistsError as exc:
            self.undo()
            raise UserError(f"{exc.filename}: appeared while this command ran; nothing was changed") from None
        except OSError as exc:
            self.undo()
            raise UserError(
                f"{exc.filename}: cannot write: {exc.strerror or exc}; nothing was changed"
            ) from None

    def _restore(self, path: Path, data: bytes, mode: int) -> None:
        _write_temp(path.parent, path.name, data, mode).replace(path)

    def undo(self) -> None:
        for step in reversed(self._done):
            with contextlib.suppress(OSError):
                step()
        self._done.clear()
        self._finish()

    def _finish(self) -> None:
        for aside in self._aside:
            shutil.rmtree(aside, ignore_errors=True)
        self._aside.clear()

    def commit(self) -> None:
        self._done.clear()
        self._finish()


# --- validation around a change ----------------------------------------------------------

# What `sign` and `renew` exist to fix, so they look past it for the hosts they are run for:
# the findings of the certificate checks (missing, unreadable, expired, other CA, IP or groups
# differing from the file, key file) and of `cert-revoked`, for those hosts only.
_FIXED_BY_SIGNING = {"certs", "revoked"}


def _check_all_but_certificates(root: Path, fixing: Sequence[str]) -> Context:
    """Every check, without the certificate findings about the hosts in `fixing`; the loaded files."""
    ctx, found = context(root)
    skipped = {c.id for c in checks.CHECKS if c.concern in _FIXED_BY_SIGNING and c.scope == "host"}
    files = {f"hosts/{name}.yml" for name in fixing}
    found += [d for d in checks.run(ctx) if not (d.check in skipped and d.file in files)]
    if any(d.severity == "error" for d in found) or ctx.network is None:
        raise ValidationFailed(found)
    return ctx


def _refusing(note: str) -> None:
    print(
        f"cryptic-net: the inventory does not validate; fix it first{note}. Nothing was signed or written.",
        file=sys.stderr,
    )


def validated_except(root: Path, fixing: Sequence[str], note: str = "") -> Context:
    """Like `validated`, for commands that make the certificates of the hosts in `fixing`."""
    try:
        return _check_all_but_certificates(root, fixing)
    except ValidationFailed:
        _refusing(note)
        raise


def validated(root: Path, note: str = "") -> Inventory:
    """Load the inventory; refuse it when invalid (exit 2, every error, nothing done)."""
    try:
        return load_inventory(root)
    except ValidationFailed:
        _refusing(note)
        raise


def apply_and_validate(root: Path, changes: Changes) -> Inventory:
    changes.apply()
    try:
        inv = load_inventory(root)
    except ValidationFailed:
        changes.undo()
        print(
            "cryptic-net: the change would leave the inventory invalid, so it was undone; "
            "nothing was changed:",
            file=sys.stderr,
        )
        raise
    except BaseException:
        changes.undo()
        raise
    changes.commit()
    # The files this change wrote are staged next (`git_stage`, which every writing command
    # calls, or says what to `git add`): that they are not tracked yet is no news.
    ours = {os.path.relpath(path, root) for path in changes.paths()}
    for warning in inv.warnings:
        if not (warning.check == "inventory-untracked" and warning.file in ours):
            print(warning, file=sys.stderr)
    return inv


def git_stage(root: Path, paths: Iterable[Path], *, enabled: bool = True) -> None:
    """A flake sees only what git tracks: stage what we wrote or removed, or say what to stage."""
    rel = sorted({os.path.relpath(p, root) for p in paths if p.is_relative_to(root)})
    probe = git(root, "rev-parse", "--is-inside-work-tree") if rel else None
    if probe is None or probe.stdout.strip() != "true":
        return  # no git, or not a git work tree
    # A removed file that git never tracked has nothing to stage (and would fail `git add`).
    listed = git(root, "ls-files", "-z", "--", *rel)
    tracked = set(listed.stdout.split("\0")) if listed is not None and listed.returncode == 0 else set(rel)
    rel = [r for r in rel if (root / r).exists() or r in tracked]
    if not rel:
        return
    shown = " ".join(rel)
    if not enabled:
        print(f"a flake sees only tracked files: git -C {root} add --all -- {shown}")
        return
    added = git(root, "add", "--all", "--", *rel)
    if added is None or added.returncode != 0:
        why = added.stderr.strip().splitlines()[0] if added is not None and added.stderr.strip() else "failed"
        print(f"warning: git add: {why}; a flake sees only tracked files: git -C {root} add --all -- {shown}")
        return
    print(f"staged in git (a flake sees only tracked files): {shown}")


def _schema_copies(root: Path, changes: Changes) -> None:
    """Keep ROOT/.schema/ equal to this version's schemas (the YAML files' `$schema` heads)."""
    local = (Path(__file__).parent / "schema").resolve()
    if local.is_relative_to(root.resolve()):
        return
    for name in SCHEMAS:
        path = root / SCHEMA_DIR / name
        text = schema_text(name).encode()
        if not path.exists():
            changes.create(path, text)
        elif path.is_file() and not path.is_symlink() and path.read_bytes() != text:
            changes.replace(path, text)


# --- the CA ----------------------------------------------------------------------------


def trusted(network: Network) -> tuple[Path, ...]:
    cas = getattr(network, "cas", None)
    return tuple(cas) if cas else (network.ca,)


def _signing_key(root: Path, network: Network, ca_crt: Path, ca_key: Path) -> Path:
    """The CA key, checked: outside the tree, and its certificate is one the network trusts."""
    key = outside(root, ca_key, "CA key")
    if not key.is_file():
        raise UserError(f"{ca_key}: not found")
    _warn_if_readable(key)
    try:
        given = certs.cert_info(ca_crt)
        ours = {certs.cert_info(ca).fingerprint for ca in trusted(network)}
    except certs.CertError as exc:
        raise UserError(f"--ca-crt {ca_crt}: {exc}") from None
    if given.fingerprint not in ours:
        listed = ", ".join(str(p) for p in trusted(network))
        raise UserError(f"--ca-crt {ca_crt} is not the network CA ({listed})")
    return key


@dataclass(frozen=True)
class InitOptions:
    root: Path
    name: str
    cidr: str
    domain: str | None
    ca_dir: Path | None
    ca_duration: str
    lighthouse_port: int | None
    git_add: bool = True


def init(opts: InitOptions) -> int:  # noqa: C901, PLR0915 (the steps, in order)
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

    ca_dir = outside(root, opts.ca_dir or Path(f"~/.local/share/cryptic-net/{opts.name}-ca"), "CA directory")
    if (ca_dir / "ca.key").exists():
        raise UserError(f"{ca_dir / 'ca.key'}: a CA already exists there; pass another --ca-dir")
    private_dir(ca_dir, "CA directory")
    changes = Changes(root)
    with tempfile.TemporaryDirectory(prefix="cryptic-net-") as tmp:
        staging = Path(tmp)
        certs.make_ca(f"{opts.name} cryptic-net CA", opts.ca_duration, staging / "ca.crt", staging / "ca.key")
        crt = (staging / "ca.crt").read_bytes()
        changes.create(root / "ca.crt", crt)
        changes.create(network_file, text.encode())
        _schema_copies(root, changes)
        changes.check()
        try:
            create_exclusive(ca_dir / "ca.key", (staging / "ca.key").read_bytes(), 0o600)
        except FileExistsError:
            raise UserError(
                f"{ca_dir / 'ca.key'}: a CA already exists there; pass another --ca-dir"
            ) from None
        with contextlib.suppress(FileExistsError):
            create_exclusive(ca_dir / "ca.crt", crt)
        try:
            (root / "hosts").mkdir(parents=True, exist_ok=True)
            changes.apply()
        except BaseException:
            (ca_dir / "ca.key").unlink(missing_ok=True)  # ours: nothing signed with it yet
            raise
        changes.commit()
    print(f"created network {opts.name} ({opts.cidr}) in {root}")
    print(f"CA certificate: {root / 'ca.crt'}")
    print(
        f"warning: the CA private key is {ca_dir / 'ca.key'}. Anyone holding it can join hosts to "
        "your network: keep it offline or encrypted, back it up, never commit it.",
        file=sys.stderr,
    )
    git_stage(root, changes.paths(), enabled=opts.git_add)
    print(
        "next: cryptic-net new-host NAME --lighthouse HOST:PORT "
        f"--ca-crt {root / 'ca.crt'} --ca-key {ca_dir / 'ca.key'}"
    )
    return 0


# --- host keys ---------------------------------------------------------------------------


def _key_dir(root: Path, network: Network, wanted: Path | None, ca_key: Path) -> Path:
    directory = outside(root, wanted or default_key_dir(network.name), "key directory")
    if directory == ca_key.parent:
        raise UserError(
            f"{directory}: the key directory must not be the CA's directory: "
            "host keys are copied around, the CA key never is (choose another --key-dir)"
        )
    return private_dir(directory, "key directory")


def _set_aside(key: Path) -> Path:
    """A leftover key of an earlier host of the same name: kept, renamed, never overwritten."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(100):
        aside = key.with_name(f"{key.name}.old-{stamp}" + (f"-{n}" if n else ""))
        try:
            os.link(key, aside)
        except FileExistsError:
            continue
        key.unlink()
        return aside
    raise UserError(f"{key}: cannot move the leftover key aside")


@dataclass(frozen=True)
class KeyPlan:
    """Where a host's new private key goes: baked into the inventory, or to the key directory."""

    baked: Path | None
    outside: Path | None


# --- new-host and sign -------------------------------------------------------------------


@dataclass(frozen=True)
class NewHostOptions:
    root: Path
    names: tuple[str, ...]
    ip: str | None
    groups: list[str]
    lighthouse: list[str]
    relay: bool
    relays: list[str] | None
    bake_key: bool
    key_path: str | None
    key_out: Path | None
    key_dir: Path | None
    ca_crt: Path
    ca_key: Path
    duration: str | None
    git_add: bool = True


def _taken_ips(root: Path, inv: Inventory, revoked: Iterable[Revoked]) -> dict[ipaddress.IPv4Address, str]:
    """Every address a host file or a revoked certificate may hold.

    The inventory validated, so every host file was read; the raw text of each host file is
    searched as well, so that an address is never handed out twice even if a file's `ip`
    could be read another way. Revoked addresses stay taken: hosts not yet rebuilt would still
    accept the revoked certificate under that address.
    """
    taken: dict[ipaddress.IPv4Address, str] = {h.ip: h.name for h in inv.hosts}
    dotted = re.compile(rb"(?<![0-9.])(\d{1,3}(?:\.\d{1,3}){3})(?![0-9.])")
    hosts_dir = root / "hosts"
    for path in sorted(hosts_dir.glob("*.yml")) if hosts_dir.is_dir() else ():
        with contextlib.suppress(OSError):
            for match in dotted.finditer(path.read_bytes()[: 1 << 20]):
                with contextlib.suppress(ValueError):
                    taken.setdefault(ipaddress.IPv4Address(match.group(1).decode()), path.stem)
    for entry in revoked:
        with contextlib.suppress(ValueError):
            taken.setdefault(ipaddress.IPv4Address(entry.ip), f"a revoked certificate of {entry.host or '?'}")
    return taken


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


def _host_yaml(opts: NewHostOptions, root: Path, name: str, ip: ipaddress.IPv4Address, key_line: str) -> str:
    yml = root / "hosts" / f"{name}.yml"
    out = [SCHEMA_LINE.format(_schema_ref(root, yml, "host.schema.json")), f"ip: {ip}\n"]
    if opts.groups:
        out.append("groups: [" + ", ".join(opts.groups) + "]\n")
    if opts.lighthouse:
        out.append("lighthouse:\n  endpoints:\n" + "".join(f'    - "{e}"\n' for e in opts.lighthouse))
    if opts.relay:
        out.append("relay: true\n")
    if opts.relays is not None:
        out.append("relays: [" + ", ".join(opts.relays) + "]\n")
    out.append(f"cert: {name}.crt\n")
    out.append(key_line)
    return "".join(out)


def _check_name(name: str) -> None:
    if not HOSTNAME.match(name):
        raise UserError(
            f"{name!r}: a host name is lowercase letters, digits and hyphens, "
            "starts with a letter, at most 63 characters"
        )


def _check_options(opts: NewHostOptions, inv: Inventory) -> None:
    several = len(opts.names) > 1
    for flag, given in (("--ip", opts.ip), ("--lighthouse", opts.lighthouse), ("--key-out", opts.key_out)):
        if several and given:
            raise UserError(f"{flag} applies to one host; give one name with it")
    if len(set(opts.names)) != len(opts.names):
        raise UserError("a name is given twice")
    for endpoint in opts.lighthouse:
        host_part, _, port = endpoint.rpartition(":")
        if not host_part or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise UserError(f"--lighthouse {endpoint!r}: expected HOST:PORT ([IPv6]:PORT for IPv6)")
    if not opts.lighthouse and not any(h.is_lighthouse for h in inv.hosts):
        raise UserError(
            "the network has no lighthouse yet: make one first "
            "(`cryptic-net new-host NAME --lighthouse HOST:PORT`); hosts find each other through it"
        )
    relay_hosts = {h.name for h in inv.hosts if h.relay}
    for relay in opts.relays or ():
        if relay not in relay_hosts:
            known = ", ".join(sorted(relay_hosts)) or "none yet"
            raise UserError(f"--relays: {relay!r} is not a relay of this network (relays: {known})")


def _plan_key(
    root: Path, name: str, *, bake: bool, key_dir: Callable[[], Path], key_out: Path | None
) -> KeyPlan:
    if bake:
        return KeyPlan(root / "hosts" / f"{name}.key", None)
    if key_out is not None:
        out = outside(root, key_out, "host key")
        if out.exists() or out.is_symlink():
            raise UserError(f"{out}: already exists; choose another --key-out")
        return KeyPlan(None, out)
    return KeyPlan(None, key_dir() / f"{name}.key")


def _write_key_outside(plan: KeyPlan, key: bytes) -> str:
    """Write a key that stays on the host; a leftover one is moved aside first."""
    out = plan.outside
    assert out is not None
    note = ""
    if out.exists() or out.is_symlink():
        aside = _set_aside(out)
        note = f" (an earlier key there was moved to {aside})"
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    create_exclusive(out, key, 0o600)
    return note


def new_host(opts: NewHostOptions) -> int:  # noqa: C901, PLR0912, PLR0915 (one transaction, told in order)
    root = opts.root.absolute()
    for name in opts.names:
        _check_name(name)
    inv = validated(root)
    _check_options(opts, inv)
    ca_key = _signing_key(root, inv.network, opts.ca_crt, opts.ca_key)
    revoked, _ = load_revoked(root)
    taken = _taken_ips(root, inv, revoked)
    network = inv.network
    runtime = opts.key_path or default_key_path(network.name)
    key_dir_cache: list[Path] = []

    def key_dir() -> Path:
        if not key_dir_cache:
            key_dir_cache.append(_key_dir(root, network, opts.key_dir, ca_key))
        return key_dir_cache[0]

    changes = Changes(root)
    plans: list[tuple[str, ipaddress.IPv4Address, KeyPlan, str]] = []
    for name in opts.names:
        yml = root / "hosts" / f"{name}.yml"
        ip = _pick_ip(network.cidr, taken, opts.ip)
        taken[ip] = name
        plan = _plan_key(root, name, bake=opts.bake_key, key_dir=key_dir, key_out=opts.key_out)
        if plan.baked is not None:
            key_line = f"key:\n  file: {name}.key  # baked into the binary\n"
        else:
            key_line = f"key:\n  path: {runtime}  # read on the host at run time\n"
        text = _host_yaml(opts, root, name, ip, key_line)
        try:
            doc = load_text(str(yml.relative_to(root)), text)
        except LoadError as exc:
            raise UserError(exc.diagnostic.message) from None
        problems = schema_errors(doc, "host.schema.json")
        if problems:
            raise ValidationFailed(problems)
        changes.create(yml, text.encode())
        changes.create(root / "hosts" / f"{name}.crt", b"")
        if plan.baked is not None:
            changes.create(plan.baked, b"", 0o600)
        plans.append((name, ip, plan, text))
    _schema_copies(root, changes)
    changes.check()

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cryptic-net-") as tmp:
        staging = Path(tmp)
        keys: dict[str, bytes] = {}
        for name, ip, plan, _ in plans:
            certs.sign(
                opts.ca_crt,
                ca_key,
                name,
                f"{ip}/{network.cidr.prefixlen}",
                opts.groups,
                staging / f"{name}.crt",
                out_key=staging / f"{name}.key",
                duration=opts.duration,
            )
            changes.create(root / "hosts" / f"{name}.crt", (staging / f"{name}.crt").read_bytes())
            keys[name] = (staging / f"{name}.key").read_bytes()
            if plan.baked is not None:
                changes.create(plan.baked, keys[name], 0o600)
        apply_and_validate(root, changes)
        for name, _, plan, _ in plans:
            if plan.outside is not None:
                notes.append(f"{name}{_write_key_outside(plan, keys[name])}")
    for name, ip, plan, _ in plans:
        print(f"added host {name} ({ip}): {root / 'hosts' / f'{name}.yml'}")
        if plan.baked is not None:
            print(_baked_note(name, runtime))
        if plan.outside is not None:
            extra = next(n for n in notes if n.startswith(name)).removeprefix(name)
            print(f"its private key is {plan.outside}: copy it to {runtime} on {name} (mode 0600){extra}")
    git_stage(root, changes.paths(), enabled=opts.git_add)
    return 0


def _baked_note(name: str, runtime: str) -> str:
    """Issue 10: what a baked key exposes, said where the user asks for one."""
    return (
        f"note: {name}'s private key is baked into cryptic-net-{name}: every local user of this build "
        "machine can read it in /nix/store, and so can anyone who can read the binary. Install it on "
        f"{name} with mode 0700 (install -m 0700 -o root cryptic-net-{name} /usr/local/bin/; it refuses "
        "to run otherwise). Without --bake-key the key stays on the host (the default): copy it to "
        f"{runtime}, mode 0600."
    )


@dataclass(frozen=True)
class SignOptions:
    root: Path
    name: str
    key_dir: Path | None
    key_out: Path | None
    ca_crt: Path
    ca_key: Path
    duration: str | None
    reason: str | None = None  # revoke --new-key: revoke the current certificate first
    git_add: bool = True


def _host_doc(root: Path, name: str) -> dict[str, Any]:
    _check_name(name)
    path = root / "hosts" / f"{name}.yml"
    if not path.is_file():
        raise UserError(f"{path}: no such host file")
    try:
        doc = load_file(f"hosts/{name}.yml", path)
    except LoadError as exc:
        raise ValidationFailed([exc.diagnostic]) from None
    return doc.data if isinstance(doc.data, dict) else {}


def sign(opts: SignOptions) -> int:  # noqa: C901, PLR0912, PLR0915 (one transaction, in order)
    """A new key pair and certificate for an existing host file (hand-written, or revoked)."""
    root = opts.root.absolute()
    data = _host_doc(root, opts.name)
    validated_except(root, [opts.name])
    network = load_network(root)
    ca_key = _signing_key(root, network, opts.ca_crt, opts.ca_key)
    hosts_dir = root / "hosts"
    cert = (hosts_dir / str(data.get("cert", f"{opts.name}.crt"))).resolve()
    if not cert.is_relative_to(root.resolve()):
        raise UserError(f"hosts/{opts.name}.yml: the certificate {cert} is outside the inventory")
    revoked, _ = load_revoked(root)
    revoked_fps = {r.fingerprint for r in revoked}
    changes = Changes(root)
    old = _readable_cert(cert)
    new_revocation: list[Revoked] | None = None
    if old is not None and old.fingerprint not in revoked_fps:
        if opts.reason is None:
            raise UserError(
                f"{cert}: exists and is not revoked; `cryptic-net renew {opts.name}` signs a new certificate "
                f"for the same key, `cryptic-net revoke {opts.name} --new-key` replaces a key that may be "
                "in others' hands"
            )
        new_revocation = [_revocation(opts.name, c, opts.reason) for c in _all_certs(cert)]
    elif opts.reason is not None and old is None:
        raise UserError(f"{cert}: no readable certificate to revoke")
    key = data.get("key") if isinstance(data.get("key"), dict) else None
    baked = (hosts_dir / str(key["file"])).resolve() if key and "file" in key else None
    if baked is not None and not baked.is_relative_to(root.resolve()):
        raise UserError(f"hosts/{opts.name}.yml: the key file {baked} is outside the inventory")
    if (
        baked is not None
        and baked.exists()
        and (old is None or old.fingerprint not in revoked_fps)
        and opts.reason is None
    ):
        raise UserError(
            f"{baked}: exists; sign makes a new key pair and does not replace a key it did not revoke "
            "(remove the file if it is a leftover)"
        )
    runtime = str(key["path"]) if key and "path" in key else default_key_path(network.name)
    ip = ipaddress.IPv4Address(str(data["ip"]))
    groups = [str(g) for g in data.get("groups", [])] if isinstance(data.get("groups"), list) else []
    if new_revocation is not None:
        _add_revocations(root, changes, [r for r in new_revocation if r.fingerprint not in revoked_fps])
    plan = KeyPlan(baked, None)
    if baked is None:
        plan = _plan_key(
            root,
            opts.name,
            bake=False,
            key_out=opts.key_out,
            key_dir=lambda: _key_dir(root, network, opts.key_dir, ca_key),
        )
    _schema_copies(root, changes)

    with tempfile.TemporaryDirectory(prefix="cryptic-net-") as tmp:
        staging = Path(tmp)
        certs.sign(
            opts.ca_crt,
            ca_key,
            opts.name,
            f"{ip}/{network.cidr.prefixlen}",
            groups,
            staging / "host.crt",
            out_key=staging / "host.key",
            duration=opts.duration,
        )
        for path, data_, mode in ((cert, (staging / "host.crt").read_bytes(), 0o644),) + (
            ((baked, (staging / "host.key").read_bytes(), 0o600),) if baked is not None else ()
        ):
            if path.exists():
                changes.replace(path, data_, mode)
            else:
                changes.create(path, data_, mode)
        changes.check()
        apply_and_validate(root, changes)
        note = _write_key_outside(plan, (staging / "host.key").read_bytes()) if plan.outside else ""
    if new_revocation is not None:
        shown = ", ".join(r.fingerprint for r in new_revocation)
        print(f"revoked {opts.name}'s certificate {shown} ({REVOKED_FILE})")
    print(f"signed a new key pair for {opts.name} ({ip}/{network.cidr.prefixlen}): {cert}")
    if plan.outside is not None:
        print(f"its private key is {plan.outside}: copy it to {runtime} on {opts.name} (mode 0600){note}")
    if new_revocation is not None:
        print(
            "rebuild and redeploy every host: until a host runs its new build, "
            "it still accepts the old certificate"
        )
    git_stage(root, changes.paths(), enabled=opts.git_add)
    return 0


def _all_certs(path: Path) -> tuple[certs.CertInfo, ...]:
    try:
        return certs.read_certs(path)
    except certs.CertError:
        return ()


def _readable_cert(path: Path) -> certs.CertInfo | None:
    if not path.is_file():
        return None
    try:
        return certs.cert_info(path)
    except certs.CertError:
        return None


# --- renew -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenewOptions:
    root: Path
    names: tuple[str, ...]
    ca_crt: Path
    ca_key: Path
    duration: str | None
    every: bool = False
    git_add: bool = True


def renew(opts: RenewOptions) -> int:  # noqa: C901 (one transaction, in order)
    """Sign a new certificate for a host's existing public key, from its YAML (IP, groups).

    For a certificate near expiry, after the host's `groups` or `ip` changed, or to move
    every host to a new CA (`renew --all` during a rotation). The private key is never read,
    so this works for keys that live only on the host.
    """
    root = opts.root.absolute()
    names = list(opts.names)
    if opts.every:
        if names:
            raise UserError("give host names or --all, not both")
        names = sorted(p.stem for p in (root / "hosts").glob("*.yml"))
    if not names:
        raise UserError("no host to renew: give names, or --all")
    for name in names:
        _check_name(name)
        if not (root / "hosts" / f"{name}.yml").is_file():
            raise UserError(f"{root / 'hosts' / f'{name}.yml'}: no such host file")
    ctx = validated_except(root, names, " (renew fixes only the certificates of the hosts it renews)")
    network = load_network(root)
    ca_key = _signing_key(root, network, opts.ca_crt, opts.ca_key)
    revoked, _ = load_revoked(root)
    revoked_fps = {r.fingerprint: r for r in revoked}
    changes = Changes(root)
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cryptic-net-") as tmp:
        staging = Path(tmp)
        for name in names:
            host = ctx.by_name[name]
            ip = host.ip
            found = ctx.host_cert(host).path
            if ip is None or found is None:  # the checks that ran said why
                raise UserError(f"hosts/{name}.yml: no usable ip or certificate path")
            cert = found.resolve()
            try:
                old = certs.cert_info(cert)
            except certs.CertError as exc:
                raise UserError(
                    f"{cert}: cannot read the certificate to renew: {exc} "
                    f"(`cryptic-net sign {name}` makes a new key pair)"
                ) from None
            if old.is_ca or old.name != name or not old.public_key:
                raise UserError(f"{cert} is not {name}'s certificate; make a new host instead")
            if old.fingerprint in revoked_fps:
                raise UserError(
                    f"{cert} was revoked ({revoked_fps[old.fingerprint].where()}): its key may be in others' "
                    f"hands, so it gets no new certificate; `cryptic-net sign {name}` makes a new key pair"
                )
            groups = list(host.groups)
            (staging / f"{name}.pub").write_bytes(old.public_key_pem())
            certs.sign(
                opts.ca_crt,
                ca_key,
                name,
                f"{ip}/{network.cidr.prefixlen}",
                groups,
                staging / f"{name}.crt",
                in_pub=staging / f"{name}.pub",
                duration=opts.duration,
            )
            try:
                new = certs.cert_info(staging / f"{name}.crt")
            except certs.CertError as exc:
                raise UserError(f"nebula-cert wrote an unreadable certificate: {exc}") from None
            changes.replace(cert, (staging / f"{name}.crt").read_bytes())
            until = new.not_after.strftime("%Y-%m-%d")
            lines.append(
                f"renewed {cert.relative_to(root.resolve())}: {ip}/{network.cidr.prefixlen}, "
                f"groups [{', '.join(groups)}], valid until {until}; same key pair"
            )
        _schema_copies(root, changes)
        changes.check()
        apply_and_validate(root, changes)
    for line in lines:
        print(line)
    git_stage(root, changes.paths(), enabled=opts.git_add)
    return 0


# --- remove and revoke -------------------------------------------------------------------


def _host_files(root: Path, name: str) -> list[Path]:
    """hosts/NAME.yml and the files it names inside hosts/ (certificate, baked key)."""
    data = _host_doc(root, name)
    files = [root / "hosts" / f"{name}.yml"]
    cert = root / "hosts" / str(data.get("cert", f"{name}.crt"))
    key = data.get("key")
    named = [cert] + ([root / "hosts" / str(key["file"])] if isinstance(key, dict) and "file" in key else [])
    files += [
        p for p in named if (p.is_file() or p.is_symlink()) and p.resolve().is_relative_to(root.resolve())
    ]
    return files


@dataclass(frozen=True)
class RemoveOptions:
    root: Path
    name: str
    git_add: bool = True


def remove(opts: RemoveOptions) -> int:
    root = opts.root.absolute()
    inv = validated(root)
    host = inv.host(opts.name)
    files = _host_files(root, opts.name)
    info = _readable_cert(host.cert)
    changes = Changes(root)
    for path in files:
        changes.remove(path)
    apply_and_validate(root, changes)
    revoked = {r.fingerprint for r in inv.revoked}
    print(f"removed host {opts.name}: " + ", ".join(str(p.relative_to(root)) for p in files))
    if info is not None and info.fingerprint not in revoked:
        until = info.not_after.strftime("%Y-%m-%d")
        print(
            f"note: its certificate stays valid until {until}: whoever holds its key can still join hosts "
            f"built before this change. If the key may be in others' hands, revoke it instead "
            f"(`cryptic-net revoke {opts.name} --reason ...`, see docs/lifecycle.md).",
            file=sys.stderr,
        )
    print("rebuild and redeploy the other hosts: their DNS and lighthouse lists still name it until then")
    git_stage(root, changes.paths(), enabled=opts.git_add)
    return 0


def _revocation(name: str, info: certs.CertInfo, reason: str) -> Revoked:
    if not reason.strip() or not reason.isprintable() or len(reason) > 200:
        raise UserError("--reason: a few printable words on one line, at most 200 characters")
    ip = info.networks[0].split("/")[0] if info.networks else ""
    return Revoked(info.fingerprint, datetime.now(UTC).strftime("%Y-%m-%d"), reason.strip(), name, ip)


def _add_revocations(root: Path, changes: Changes, entries: Sequence[Revoked]) -> None:
    path = root / REVOKED_FILE
    body = "".join(entry_yaml(e) for e in entries)
    if path.exists():
        text = path.read_text(encoding="utf-8")
        data = load_revoked(root)[0]
        if not data and "revoked:" in text and text.rstrip().endswith("[]"):
            text = text.rstrip()[: -len("[]")].rstrip() + "\n"
        elif "revoked:" not in text:
            text += "revoked:\n"
        changes.replace(path, (text if text.endswith("\n") else text + "\n").encode() + body.encode())
    else:
        head = SCHEMA_LINE.format(_schema_ref(root, path, "revoked.schema.json"))
        text = (
            head + "# Certificates this network no longer trusts: every host's nebula refuses them\n"
            "# (pki.blocklist) once it runs a build made after the entry was added.\n"
            "revoked:\n" + body
        )
        changes.create(path, text.encode())


@dataclass(frozen=True)
class RevokeOptions:
    root: Path
    name: str | None
    fingerprint: str | None
    reason: str
    new_key: bool
    key_dir: Path | None
    key_out: Path | None
    ca_crt: Path | None
    ca_key: Path | None
    duration: str | None
    git_add: bool = True


def revoke(opts: RevokeOptions) -> int:  # noqa: C901 (by name or by fingerprint)
    """Add a certificate to revoked.yml; by default also remove the host, or give it a new key."""
    root = opts.root.absolute()
    if (opts.name is None) == (opts.fingerprint is None):
        raise UserError("give a host name or --fingerprint FP (a certificate no longer in the inventory)")
    if opts.new_key:
        if opts.name is None or opts.ca_crt is None or opts.ca_key is None:
            raise UserError("--new-key needs the host name, --ca-crt and --ca-key")
        return sign(
            SignOptions(
                root,
                opts.name,
                opts.key_dir,
                opts.key_out,
                opts.ca_crt,
                opts.ca_key,
                opts.duration,
                reason=opts.reason,
                git_add=opts.git_add,
            )
        )
    if opts.name:
        validated_except(root, [opts.name])
    else:
        validated(root)
    known = {r.fingerprint for r in load_revoked(root)[0]}
    changes = Changes(root)
    if opts.fingerprint is not None:
        fingerprint = opts.fingerprint.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", fingerprint):
            raise UserError("--fingerprint: 64 hex digits, as `nebula-cert print` shows")
        if fingerprint in known:
            raise UserError(f"{fingerprint} is already revoked ({REVOKED_FILE})")
        entry = Revoked(fingerprint, datetime.now(UTC).strftime("%Y-%m-%d"), opts.reason.strip())
        if not opts.reason.strip() or not opts.reason.isprintable():
            raise UserError("--reason: a few printable words on one line")
        _add_revocations(root, changes, [entry])
        apply_and_validate(root, changes)
        print(f"revoked {fingerprint} ({REVOKED_FILE})")
    else:
        assert opts.name is not None
        files = _host_files(root, opts.name)
        data = _host_doc(root, opts.name)
        cert = root / "hosts" / str(data.get("cert", f"{opts.name}.crt"))
        info = _readable_cert(cert)
        if info is None:
            raise UserError(
                f"{cert}: no readable certificate to revoke (`--fingerprint` revokes one by its fingerprint)"
            )
        # Every certificate in the file: a host may hold a version-1 and a version-2 certificate
        # of one key, whose fingerprints differ (docs/lifecycle.md).
        fresh = [c for c in _all_certs(cert) if c.fingerprint not in known]
        _add_revocations(root, changes, [_revocation(opts.name, c, opts.reason) for c in fresh])
        for path in files:
            changes.remove(path)
        apply_and_validate(root, changes)
        print(f"revoked {opts.name}'s certificate {info.fingerprint} and removed its files ({REVOKED_FILE})")
        print(f"a new key pair for a replacement machine: cryptic-net new-host {opts.name} (a new address)")
    print(
        "rebuild and redeploy every host: until a host runs its new build, it still accepts the certificate"
    )
    git_stage(root, changes.paths(), enabled=opts.git_add)
    return 0
