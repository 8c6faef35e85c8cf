"""What a check is, what it reads, and the one ordered list they are registered in.

A check is a small named unit: an id (which is also the name of its case in `tests/bad/`), a
docstring saying what it finds and why that matters, a scope (it runs once per host file, once
for network.yml, or once for the whole inventory) and whether it needs every host file to have
loaded: a check that says "no host has group X" would guess while a host file is unreadable,
so the runner skips it then. Checks read the model (`cryptic_net.model`) and yield located
`Diagnostic`s; they never build the model and never raise for bad input.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cryptic_net import certs
from cryptic_net.paths import display, inside

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from datetime import datetime
    from pathlib import Path

    from cryptic_net.errors import Diagnostic
    from cryptic_net.model import HostFile, NetworkFile

Scope = Literal["host", "network", "inventory"]


@dataclass(frozen=True)
class Check:
    id: str
    scope: Scope
    needs_complete: bool
    func: Callable[..., Iterable[Diagnostic]]
    concern: str  # the module: names, addresses, topology, firewall, certs, secrets

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    @property
    def summary(self) -> str:
        first = " ".join(self.doc.split("\n\n")[0].split())
        return first.split(". ")[0].split(": ")[0].removesuffix(".")


CHECKS: list[Check] = []


def check(check_id: str, scope: Scope, *, needs_complete: bool = False) -> Callable[[Any], Any]:
    """Register a check under `check_id`, in the order the modules define them."""

    def register(func: Callable[..., Iterable[Diagnostic]]) -> Callable[..., Iterable[Diagnostic]]:
        if any(c.id == check_id for c in CHECKS):
            raise ValueError(f"check {check_id!r} is registered twice")
        concern = func.__module__.rsplit(".", 1)[-1]
        CHECKS.append(Check(check_id, scope, needs_complete, func, concern))
        return func

    return register


@dataclass
class CertAt:
    """A certificate an inventory file names: where it is named, what it resolved to."""

    at: str  # json path of the value (or `$` for a default)
    value: str
    path: Path | None  # None when it does not resolve inside the inventory
    problem: str | None  # why not


@dataclass
class Context:
    """Everything the checks read: the files as loaded, and caches they share."""

    root: Path
    now: datetime
    network: NetworkFile | None
    hosts: list[HostFile]
    complete: bool  # every host file loaded and names, groups, roles passed the schema
    host_entries: list[Path] = field(default_factory=list)  # everything in hosts/
    _infos: dict[Path, certs.CertInfo | certs.CertError] = field(default_factory=dict)
    _ca_files: list[CertAt] | None = None
    _cas: list[tuple[Path, certs.CertInfo]] | None = None
    _bundles: dict[Path, tuple[certs.CertInfo, ...] | certs.CertError] = field(default_factory=dict)
    _by_name: dict[str, HostFile] | None = None
    _resolved: dict[tuple[Path, str], Path | str] = field(default_factory=dict)
    _real_root: Path | None = None
    _host_certs: dict[str, CertAt] = field(default_factory=dict)
    _revoked: Any = None  # revoked.yml as loaded, once (cryptic_net.checks.revoked)

    @property
    def by_name(self) -> dict[str, HostFile]:
        if self._by_name is None:
            self._by_name = {h.name: h for h in self.hosts}
        return self._by_name

    def display(self, path: Path) -> str:
        return display(self.root, path)

    def resolve(self, at: str, base: Path, value: str) -> CertAt:
        """`value` resolved against `base` inside the inventory (once per base and value)."""
        found = self._resolved.get((base, value))
        if found is None:
            if self._real_root is None:
                self._real_root = self.root.resolve()
            found = self._resolved[base, value] = inside(self.root, base, value, self._real_root)
        if isinstance(found, str):
            return CertAt(at, value, None, found)
        return CertAt(at, value, found, None)

    def cert_info(self, path: Path) -> certs.CertInfo | certs.CertError:
        """`certs.cert_info`, once per file."""
        known = self._infos.get(path)
        if known is None:
            try:
                known = certs.cert_info(path)
            except certs.CertError as exc:
                known = exc
            self._infos[path] = known
        return known

    # --- the network CAs -----------------------------------------------------------------

    def ca_files(self) -> list[CertAt]:
        if self._ca_files is None:
            values = self.network.ca_values if self.network is not None else []
            self._ca_files = [self.resolve(at, self.root, value) for at, value in values]
        return self._ca_files

    def ca_certs(self, path: Path) -> tuple[certs.CertInfo, ...] | certs.CertError:
        """Every certificate of a CA file (a PEM bundle may hold the current and the next CA)."""
        known = self._bundles.get(path)
        if known is None:
            try:
                known = certs.read_certs(path)
            except certs.CertError as exc:
                known = exc
            self._bundles[path] = known
        return known

    def cas(self) -> list[tuple[Path, certs.CertInfo]]:
        """Every trusted CA, with its file, in the order network.yml lists them; only files that
        hold nothing but CA certificates count."""
        if self._cas is None:
            self._cas = []
            for ca in self.ca_files():
                if ca.path is not None:
                    found = self.ca_certs(ca.path)
                    if not isinstance(found, certs.CertError) and all(c.is_ca for c in found):
                        self._cas += [(ca.path, info) for info in found]
        return self._cas

    def cas_complete(self) -> bool:
        """Every CA network.yml names is a readable CA certificate (and `ca` passed the schema)."""
        files = self.ca_files()
        return (
            self.network is not None
            and "ca" in self.network.data
            and bool(files)
            and all(
                ca.path is not None
                and not isinstance(found := self.ca_certs(ca.path), certs.CertError)
                and all(c.is_ca for c in found)
                for ca in files
            )
        )

    # --- host certificates ---------------------------------------------------------------

    def host_cert(self, host: HostFile) -> CertAt:
        known = self._host_certs.get(host.name)
        if known is None:
            known = self._host_certs[host.name] = self._host_cert(host)
        return known

    def _host_cert(self, host: HostFile) -> CertAt:
        at = "$.cert" if "cert" in host.doc.data else "$"
        value = host.data.get("cert", f"{host.name}.crt") if at == "$" or "cert" in host.data else None
        if value is None:  # `cert` failed the schema: nothing to resolve
            return CertAt(at, "", None, None)
        return self.resolve(at, self.root / "hosts", value)

    def host_cert_info(self, host: HostFile) -> tuple[CertAt, certs.CertInfo] | None:
        """The host's certificate when it is a readable host certificate."""
        cert = self.host_cert(host)
        if cert.path is None:
            return None
        info = self.cert_info(cert.path)
        if not isinstance(info, certs.CertInfo) or info.is_ca:
            return None
        return cert, info

    def issuer_of(self, info: certs.CertInfo) -> tuple[Path, certs.CertInfo] | None:
        for path, ca in self.cas():
            if ca.fingerprint == info.issuer:
                return path, ca
        return None

    def signed_cert(self, host: HostFile) -> tuple[CertAt, certs.CertInfo] | None:
        """The host's certificate when it is a host certificate issued by a trusted CA.

        While the CAs are not all readable, the issuer cannot be judged and this is the
        readable certificate as it is (today's behaviour: its own fields are still checked)."""
        found = self.host_cert_info(host)
        if found is None:
            return None
        if self.cas_complete() and self.issuer_of(found[1]) is None:
            return None
        return found
