"""Revoked certificates: `revoked.yml`, the network's own list, and nebula's `pki.blocklist`.

nebula refuses a peer whose certificate fingerprint is in `pki.blocklist` (1.6 reads it, and
1.10 checks it in `CAPool.VerifyCertificate`; for P-256 certificates 1.10 also computes the
alternate fingerprint of the swapped signature itself, so one fingerprint per certificate is
enough: https://github.com/slackhq/nebula/blob/v1.10.3/cert/ca_pool.go). The fingerprint is
the sha256 of the whole certificate, exactly what `nebula-cert print -json` shows; a version-1
and a version-2 certificate of the same key have different fingerprints, so each one that was
issued must be listed.

The list lives in its own file, not in network.yml: it only grows, `cryptic-net revoke`
writes it, and a reviewer sees a revocation as one added entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptic_net.errors import Diagnostic
from cryptic_net.model import REVOKED_FILE, Revoked
from cryptic_net.yamlload import Document, LoadError, load_file

if TYPE_CHECKING:
    from pathlib import Path

SCHEMA = "revoked.schema.json"


def load_revoked(root: Path) -> tuple[tuple[Revoked, ...], list[Diagnostic]]:
    """The entries of ROOT/revoked.yml (none when it is absent) and what is wrong with it."""
    from cryptic_net.inventory import schema_errors  # noqa: PLC0415 (inventory imports us)

    path = root / REVOKED_FILE
    if not path.exists() and not path.is_symlink():
        return (), []
    if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
        return (), [
            Diagnostic(REVOKED_FILE, 1, 1, "$", f"symlink points outside the inventory ({path.resolve()})")
        ]
    try:
        doc = load_file(REVOKED_FILE, path)
    except LoadError as exc:
        return (), [exc.diagnostic]
    if doc.data is None:
        doc.data = {"revoked": []}
    problems = schema_errors(doc, SCHEMA)
    if problems:
        return (), problems
    return _entries(doc)


def _entries(doc: Document) -> tuple[tuple[Revoked, ...], list[Diagnostic]]:
    entries: list[Revoked] = []
    problems: list[Diagnostic] = []
    first: dict[str, int] = {}
    for i, raw in enumerate(doc.data["revoked"]):
        at = f"$.revoked[{i}]"
        line, col = doc.where(at)
        fingerprint = raw["fingerprint"]
        if fingerprint in first:
            problems.append(
                doc.diag(f"{at}.fingerprint", f"already revoked above (line {first[fingerprint]})")
            )
            continue
        first[fingerprint] = line
        entries.append(
            Revoked(
                fingerprint, raw["date"], raw["reason"], raw.get("host", ""), raw.get("ip", ""), line, col
            )
        )
    return tuple(entries), problems


def entry_yaml(entry: Revoked) -> str:
    """One list item of revoked.yml, as `revoke` appends it (every value quoted: plain data)."""
    lines = [f'  - fingerprint: "{entry.fingerprint}"\n']
    if entry.host:
        lines.append(f"    host: {entry.host}\n")
    if entry.ip:
        lines.append(f'    ip: "{entry.ip}"\n')
    lines.append(f'    date: "{entry.date}"\n')
    reason = entry.reason.replace("\\", "\\\\").replace('"', '\\"')
    lines.append(f'    reason: "{reason}"\n')
    return "".join(lines)
