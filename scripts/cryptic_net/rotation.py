"""CA rotation: `ca-add` trusts a new CA beside the current one, `ca-drop` stops trusting one.

nebula trusts every CA in `pki.ca` (a PEM bundle), so a network can move to a new CA without
downtime (https://nebula.defined.net/docs/guides/rotating-certificate-authority/):

1. `ca-add`: make the next CA (its key outside the inventory) and add its certificate to
   network.yml's `ca` list; rebuild and redeploy every host, so every host trusts both;
2. `renew --all --ca-crt NEW --ca-key NEW-KEY`: every host gets a certificate of the new CA
   for its existing key; rebuild and redeploy every host;
3. `ca-drop OLD.crt`: the old CA leaves `ca` (refused while a host certificate still needs
   it); rebuild and redeploy every host.

Between the steps, hosts with certificates of either CA reach each other, because each host
trusts both (tests/integration/test_lifecycle.py).
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptic_net import certs
from cryptic_net.errors import UserError
from cryptic_net.model import DEFAULT_CA_DURATION
from cryptic_net.tooling import (
    Changes,
    apply_and_validate,
    create_exclusive,
    git_stage,
    outside,
    private_dir,
    trusted,
    validated,
)
from cryptic_net.yamlload import LoadError, load_text


def _ca_block(paths: list[str]) -> str:
    if len(paths) == 1:
        return f"ca: {paths[0]}\n"
    return "ca:\n" + "".join(f"  - {p}\n" for p in paths)


def set_ca(text: str, paths: list[str]) -> str:
    """network.yml's text with `ca` replaced by `paths`; every other line stays as it was."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("ca:")), None)
    if start is None:
        raise UserError("network.yml: no top-level `ca:` line to change; edit `ca` by hand")
    end = start + 1
    # The value runs on while lines are indented or are items of a sequence at column 0.
    while end < len(lines) and (lines[end][:1] in {" ", "\t", "-"} or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # blank lines after the value belong to what follows
    new = "".join(lines[:start]) + _ca_block(paths) + "".join(lines[end:])
    try:
        data = load_text("network.yml", new).data
    except LoadError as exc:
        raise UserError(f"network.yml: cannot change `ca` automatically ({exc}); edit it by hand") from None
    got = data.get("ca") if isinstance(data, dict) else None
    if (got if isinstance(got, list) else [got]) != paths:
        raise UserError("network.yml: cannot change `ca` automatically; edit it by hand")
    return new


def _rel(root: Path, path: Path) -> str:
    return os.path.relpath(path, root)


@dataclass(frozen=True)
class CaAddOptions:
    root: Path
    ca_dir: Path
    ca_duration: str = DEFAULT_CA_DURATION
    out: str | None = None  # the certificate's file in the inventory
    git_add: bool = True


def ca_add(opts: CaAddOptions) -> int:
    root = opts.root.absolute()
    inv = validated(root)
    network = inv.network
    ca_dir = outside(root, opts.ca_dir, "CA directory")
    key = ca_dir / "ca.key"
    if key.exists() or key.is_symlink():
        raise UserError(f"{key}: a CA already exists there; pass another --ca-dir")
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    name = opts.out or f"ca-{stamp}.crt"
    if "/" in name or name.startswith(".") or not name.endswith(".crt"):
        raise UserError(f"--out {name!r}: a file name ending in .crt, in the inventory's top directory")
    crt_path = root / name
    text = (root / "network.yml").read_text(encoding="utf-8")
    paths = [_rel(root, p) for p in trusted(network)]
    changes = Changes(root)
    changes.replace(root / "network.yml", set_ca(text, [*paths, name]).encode())
    changes.create(crt_path, b"")
    changes.check()
    private_dir(ca_dir, "CA directory")
    with tempfile.TemporaryDirectory(prefix="cryptic-net-") as tmp:
        staging = Path(tmp)
        certs.make_ca(
            f"{network.name} cryptic-net CA {stamp}", opts.ca_duration, staging / "ca.crt", staging / "ca.key"
        )
        crt = (staging / "ca.crt").read_bytes()
        changes.create(crt_path, crt)
        try:
            create_exclusive(key, (staging / "ca.key").read_bytes(), 0o600)
        except FileExistsError:
            raise UserError(f"{key}: a CA already exists there; pass another --ca-dir") from None
        try:
            apply_and_validate(root, changes)
        except BaseException:
            key.unlink(missing_ok=True)
            raise
        if not (ca_dir / "ca.crt").exists():
            create_exclusive(ca_dir / "ca.crt", crt)
    print(f"added CA {name} to network.yml: hosts trust {', '.join([*paths, name])} once rebuilt")
    print(
        f"warning: the new CA private key is {key}. "
        "Keep it offline or encrypted, back it up, never commit it.",
        file=sys.stderr,
    )
    print(
        "next: rebuild and redeploy every host; then "
        f"cryptic-net renew --all --ca-crt {crt_path} --ca-key {key}; rebuild and redeploy again; "
        f"then cryptic-net ca-drop {paths[0]} (docs/lifecycle.md)"
    )
    git_stage(root, changes.paths(), enabled=opts.git_add)
    return 0


@dataclass(frozen=True)
class CaDropOptions:
    root: Path
    ca: Path
    git_add: bool = True


def ca_drop(opts: CaDropOptions) -> int:
    root = opts.root.absolute()
    inv = validated(root)
    cas = list(trusted(inv.network))
    target = (opts.ca if opts.ca.is_absolute() else Path.cwd() / opts.ca).resolve()
    if target not in cas:
        target = (root / opts.ca).resolve()
    if target not in cas:
        listed = ", ".join(_rel(root, p) for p in cas)
        raise UserError(f"{opts.ca}: not a CA of this network (network.yml `ca`: {listed})")
    if len(cas) == 1:
        raise UserError(f"{opts.ca}: the network's only CA; `ca-add` the next one first")
    keep = [_rel(root, p) for p in cas if p != target]
    text = (root / "network.yml").read_text(encoding="utf-8")
    changes = Changes(root)
    changes.replace(root / "network.yml", set_ca(text, keep).encode())
    changes.remove(target)
    apply_and_validate(root, changes)
    print(
        f"dropped CA {_rel(root, target)}: rebuild and redeploy every host, "
        f"which then trust only {', '.join(keep)}"
    )
    git_stage(root, changes.paths(), enabled=opts.git_add)
    return 0
