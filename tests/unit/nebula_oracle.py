"""Every nebula-cert at hand, asked as the oracle: its `print -json` read into one shape, its `verify`.

Debian 12's nebula-cert is 1.6.1 (version-1 certificates only, one JSON object per line, `ips`
and `subnets`); 1.10 and later print a JSON list with `networks`, `unsafeNetworks`, `version`,
and for version 2 `curve` and `publicKey` beside `details`. `parse_print_json` reads all of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

TIMEOUT = 20
# Times as Go prints them: RFC 3339 in the local zone; the oracle runs with TZ=UTC.
ENV = {**os.environ, "TZ": "UTC"}


@dataclass(frozen=True)
class Oracle:
    path: str
    version: tuple[int, int, int]

    @property
    def label(self) -> str:
        return "nebula-cert-" + ".".join(map(str, self.version))

    @property
    def modern(self) -> bool:
        """1.10 and later: both certificate versions, both curves, JSON lists."""
        return self.version >= (1, 10, 0)

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.path, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=ENV,
            check=False,
        )

    def print_json(self, path: Path) -> list[dict[str, Any]] | None:
        """The certificates of `path` as `parse_print_json` reads them; None when it refuses."""
        result = self.run("print", "-json", "-path", path)
        return parse_print_json(result.stdout) if result.returncode == 0 else None

    def verify(self, ca: Path, crt: Path) -> tuple[bool, str]:
        result = self.run("verify", "-ca", ca, "-crt", crt)
        return result.returncode == 0, (result.stderr or result.stdout).strip()


def candidates() -> list[Oracle]:
    """Every nebula-cert on PATH and /usr/bin/nebula-cert, once each, asked for its version."""
    paths = [Path(d) / "nebula-cert" for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    paths.append(Path("/usr/bin/nebula-cert"))
    seen: dict[str, Oracle] = {}
    for path in paths:
        if not (path.is_file() and os.access(path, os.X_OK)):
            continue
        real = str(path.resolve())
        if real in seen:
            continue
        out = subprocess.run([real, "-version"], capture_output=True, text=True, timeout=TIMEOUT, check=False)
        found = re.search(r"(\d+)\.(\d+)\.(\d+)", out.stdout + out.stderr)
        if found:
            major, minor, patch = (int(x) for x in found.groups())
            seen[real] = Oracle(real, (major, minor, patch))
    return sorted(seen.values(), key=lambda o: o.version)


def _epoch(value: str) -> int:
    return int(datetime.fromisoformat(value).timestamp())


def parse_print_json(text: str) -> list[dict[str, Any]]:
    """`nebula-cert print -json` of 1.6 (an object per line) or 1.10+ (one list), in one shape.

    Keys: version, name, networks, unsafeNetworks, groups, isCa, issuer, notBefore, notAfter
    (seconds), publicKey, curve (None where 1.6 does not say), fingerprint, signature.
    """
    docs: list[Any] = []
    decoder = json.JSONDecoder()
    rest = text.strip()
    while rest:
        doc, end = decoder.raw_decode(rest)
        docs += doc if isinstance(doc, list) else [doc]
        rest = rest[end:].strip()
    out = []
    for doc in docs:
        details = doc["details"]
        out.append(
            {
                "version": doc.get("version", 1),
                "name": details["name"],
                "networks": list(details.get("networks", details.get("ips")) or []),
                "unsafeNetworks": list(details.get("unsafeNetworks", details.get("subnets")) or []),
                "groups": list(details.get("groups") or []),
                "isCa": bool(details.get("isCa", False)),
                "issuer": details.get("issuer") or "",
                "notBefore": _epoch(details["notBefore"]),
                "notAfter": _epoch(details["notAfter"]),
                # Inside `details` for version 1, beside it for version 2 (1.10+).
                "publicKey": details.get("publicKey") or doc.get("publicKey") or "",
                "curve": details.get("curve") or doc.get("curve"),
                "fingerprint": doc["fingerprint"],
                "signature": doc["signature"],
            }
        )
    return out
