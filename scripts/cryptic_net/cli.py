"""The `cryptic-net` command. User errors: one line each, exit 2. Anything else is a bug.

Each command imports what it uses, inside its function: the Nix build starts this program once
per host (`appdir --description`), and importing every command's modules (certificates,
checks, jsonschema, reach) at the top doubled the time of such a render.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cryptic_net import __version__
from cryptic_net.errors import UserError, ValidationFailed
from cryptic_net.model import DEFAULT_CA_DURATION, default_key_dir, default_key_path

if TYPE_CHECKING:
    from collections.abc import Callable

    from cryptic_net.model import Inventory

EXIT_USER_ERROR = 2


def _validate(args: argparse.Namespace) -> int:
    from cryptic_net import report
    from cryptic_net.inventory import load_inventory

    if args.format == "json":
        try:
            inv = load_inventory(args.root)
        except ValidationFailed as exc:
            sys.stdout.write(report.as_json(exc.diagnostics))
            return EXIT_USER_ERROR
        sys.stdout.write(report.as_json(list(inv.warnings)))
        return 0
    inv = load_inventory(args.root)
    for warning in inv.warnings:
        print(warning, file=sys.stderr)
    print(f"{inv.network.name}: {len(inv.hosts)} hosts, no errors")
    return 0


def _checks(args: argparse.Namespace) -> int:
    from cryptic_net import checks

    del args
    width = max(len(c.id) for c in checks.CHECKS)
    for one in checks.CHECKS:
        flags = " (needs every host file)" if one.needs_complete else ""
        print(f"{one.id:<{width}}  {one.concern:<9}  {one.scope:<9}  {one.summary}{flags}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from cryptic_net import checks

    one = checks.find(args.id)
    if one is None:
        raise UserError(f"no check named {args.id!r} (`cryptic-net checks` lists them)")
    print(f"{one.id} ({one.concern}, once per {one.scope})\n")
    print(one.doc)
    if one.needs_complete:
        print("\nSkipped while a host file cannot be loaded: it would have to guess.")
    return 0


def _host_inventory(args: argparse.Namespace) -> Inventory:
    """The model one host is rendered from: a `describe` output (validated once for the whole
    network, and no checks imported), or the inventory itself, validated now."""
    if args.description is not None:
        from cryptic_net.describe import inventory_for_host

        return inventory_for_host(args.description, args.root, args.host)
    from cryptic_net.inventory import load_inventory

    inv = load_inventory(args.root)
    for warning in inv.warnings:
        print(warning, file=sys.stderr)
    return inv


def _render(args: argparse.Namespace) -> int:
    from cryptic_net.output import write_tree
    from cryptic_net.render import render_host

    inv = _host_inventory(args)
    write_tree(args.out, render_host(inv, args.host))
    return 0


def _appdir(args: argparse.Namespace) -> int:
    from cryptic_net.appdir import assemble, packaged_template

    inv = _host_inventory(args)
    assemble(inv, args.host, args.bin_dir, args.template or packaged_template(), args.out)
    return 0


def _describe(args: argparse.Namespace) -> int:
    from cryptic_net.describe import describe, dumps
    from cryptic_net.inventory import load_inventory
    from cryptic_net.output import write_file

    inv = load_inventory(args.root)
    for warning in inv.warnings:
        print(warning, file=sys.stderr)
    write_file(args.out, dumps(describe(inv)).encode())
    print(f"{inv.network.name}: {len(inv.hosts)} hosts, no errors; described in {args.out}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from cryptic_net.inventory import schema_text

    sys.stdout.write(schema_text(f"{args.kind}.schema.json"))
    return 0


def _init(args: argparse.Namespace) -> int:
    from cryptic_net.tooling import InitOptions, init

    return init(
        InitOptions(
            args.root,
            args.name,
            args.cidr,
            args.domain,
            args.ca_dir,
            args.ca_duration,
            args.lighthouse_port,
            git_add=args.git_add,
        )
    )


def _split(items: list[str]) -> list[str]:
    return [g for item in items for g in item.split(",") if g]


def _new_host(args: argparse.Namespace) -> int:
    from cryptic_net.tooling import NewHostOptions, new_host

    return new_host(
        NewHostOptions(
            args.root,
            tuple(args.names),
            args.ip,
            _split(args.groups),
            args.lighthouse,
            args.relay,
            None if args.relays is None else _split(args.relays),
            args.bake_key,
            args.key_path,
            args.key_out,
            args.key_dir,
            args.ca_crt,
            args.ca_key,
            args.duration,
            git_add=args.git_add,
        )
    )


def _renew(args: argparse.Namespace) -> int:
    from cryptic_net.tooling import RenewOptions, renew

    return renew(
        RenewOptions(
            args.root, tuple(args.names), args.ca_crt, args.ca_key, args.duration, args.all, args.git_add
        )
    )


def _sign(args: argparse.Namespace) -> int:
    from cryptic_net.tooling import SignOptions, sign

    return sign(
        SignOptions(
            args.root,
            args.name,
            args.key_dir,
            args.key_out,
            args.ca_crt,
            args.ca_key,
            args.duration,
            git_add=args.git_add,
        )
    )


def _remove(args: argparse.Namespace) -> int:
    from cryptic_net.tooling import RemoveOptions, remove

    return remove(RemoveOptions(args.root, args.name, args.git_add))


def _revoke(args: argparse.Namespace) -> int:
    from cryptic_net.tooling import RevokeOptions, revoke

    return revoke(
        RevokeOptions(
            args.root,
            args.name,
            args.fingerprint,
            args.reason,
            args.new_key,
            args.key_dir,
            args.key_out,
            args.ca_crt,
            args.ca_key,
            args.duration,
            args.git_add,
        )
    )


def _ca_add(args: argparse.Namespace) -> int:
    from cryptic_net.rotation import CaAddOptions, ca_add

    return ca_add(CaAddOptions(args.root, args.ca_dir, args.ca_duration, args.out, args.git_add))


def _ca_drop(args: argparse.Namespace) -> int:
    from cryptic_net.rotation import CaDropOptions, ca_drop

    return ca_drop(CaDropOptions(args.root, args.ca, args.git_add))


def _git_flag(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--no-git-add",
        dest="git_add",
        action="store_false",
        help="do not stage the written files in git (a flake sees only tracked files; says what to add)",
    )


def _ca_flags(cmd: argparse.ArgumentParser, *, required: bool = True) -> None:
    cmd.add_argument("--ca-crt", type=Path, required=required, help="the signing CA's certificate")
    cmd.add_argument("--ca-key", type=Path, required=required, help="the signing CA's private key")
    cmd.add_argument("--duration", help="certificate validity (default: until just before the CA expires)")


def _key_flags(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--key-dir",
        type=Path,
        help=f"where keys that stay on the host are written (default: {default_key_dir('NETWORK')}; "
        "never the CA's directory, never inside the inventory)",
    )
    cmd.add_argument(
        "--key-out", type=Path, help="write this one host's key to this file instead (outside the tree)"
    )


def _reach(args: argparse.Namespace) -> int:
    from cryptic_net import reach
    from cryptic_net.inventory import load_inventory

    inv = load_inventory(args.root)
    for warning in inv.warnings:
        print(warning, file=sys.stderr)
    engine = reach.Reach.of(inv)
    if args.explain:
        src, dst, packet = args.explain
        engine.node(src)
        engine.node(dst)
        verdict = engine.explain(src, dst, *reach.parse_packet(packet))
        if args.json:
            print(json.dumps(reach.verdict_json(verdict), indent=2))
        else:
            sys.stdout.write(reach.explain_text(verdict))
        return 0
    for name in args.from_ + args.to:
        engine.node(name)
    protos = args.proto or list(reach.PROTOS)
    port = reach.parse_port_filter(args.port) if args.port else None
    if port is not None and args.proto is None:
        protos = ["tcp", "udp"]  # ICMP has no ports
    flows = engine.flows(args.from_ or None, args.to or None, protos, port)
    if args.classes:
        classes, between = reach.by_class(engine, flows)
        if args.json:
            listed = {"classes": [c.as_json() for c in classes], "flows": [f.as_json() for f in between]}
            print(json.dumps(listed, indent=2))
        else:
            sys.stdout.write(reach.classes_text(classes) + "\n" + reach.table(between))
        return 0
    if args.json:
        print(json.dumps([f.as_json() for f in flows], indent=2))
    else:
        sys.stdout.write(reach.table(flows))
    return 0


def _graph(args: argparse.Namespace) -> int:
    from cryptic_net import graph
    from cryptic_net.inventory import load_inventory

    inv = load_inventory(args.root)
    for warning in inv.warnings:
        print(warning, file=sys.stderr)
    text = graph.dot(inv, args.nodes) if args.format == "dot" else graph.svg(inv, args.nodes)
    if args.out is None:
        sys.stdout.write(text)
    else:
        graph.write(args.out, text)
    return 0


def parser() -> argparse.ArgumentParser:  # noqa: PLR0915 (one block per command)
    top = argparse.ArgumentParser(
        prog="cryptic-net", description="Build per-host cryptic-net overlay bundles."
    )
    top.add_argument("--version", action="version", version=f"cryptic-net {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("--root", type=Path, default=Path(), help="inventory directory (default: .)")
        return cmd

    cmd = command("validate", "check network.yml and hosts/*.yml; every error, located")
    cmd.add_argument(
        "--format", choices=["text", "json"], default="text", help="json: one object on stdout, for tools"
    )
    cmd.set_defaults(func=_validate)

    cmd = sub.add_parser("checks", help="list every check validate runs")
    cmd.set_defaults(func=_checks)

    cmd = sub.add_parser("explain", help="what one check finds, and why")
    cmd.add_argument("id", help="a check id, as `cryptic-net checks` lists it")
    cmd.set_defaults(func=_explain)

    cmd = command("render", "write a host's configuration files (validates first)")
    cmd.add_argument("host")
    cmd.add_argument("--out", type=Path, required=True, help="directory to create")
    cmd.set_defaults(func=_render)

    cmd = command("appdir", "assemble a host's AppDir: template + rendered etc/ + binaries")
    cmd.add_argument("host")
    cmd.add_argument("--bin-dir", type=Path, required=True, help="holds nebula, nebula-cert, dnsmasq, pmux")
    cmd.add_argument("--out", type=Path, required=True, help="directory to create")
    cmd.add_argument(
        "--template", type=Path, help="AppRun, .desktop and icon (default: the ones installed with the glue)"
    )
    cmd.set_defaults(func=_appdir)

    cmd = sub.add_parser("schema", help="print a JSON schema (for editors)")
    cmd.add_argument("kind", choices=["network", "host", "policy", "revoked"])
    cmd.set_defaults(func=_schema)

    cmd = command("init", "create a network: a CA (outside the tree) and network.yml")
    cmd.add_argument("--name", required=True, help="network name (lowercase, at most 12 characters)")
    cmd.add_argument("--cidr", required=True, help="overlay IPv4 network, e.g. 10.42.0.0/24")
    cmd.add_argument("--domain", help="DNS domain (default: NAME.internal)")
    cmd.add_argument(
        "--ca-dir", type=Path, help="where the CA goes (default: ~/.local/share/cryptic-net/NAME-ca)"
    )
    cmd.add_argument(
        "--ca-duration",
        default=DEFAULT_CA_DURATION,
        help=f"CA validity (default: {DEFAULT_CA_DURATION}, 20 years)",
    )
    cmd.add_argument("--lighthouse-port", type=int, help="UDP port of lighthouses (default: 4242)")
    _git_flag(cmd)
    cmd.set_defaults(func=_init)

    cmd = command("new-host", "sign host certificates and write hosts/NAME.yml, for one or several names")
    cmd.add_argument("names", nargs="+", metavar="NAME")
    cmd.add_argument("--ip", help="overlay IP (default: the next free one)")
    cmd.add_argument("--groups", action="append", default=[], help="comma-separated groups (repeatable)")
    cmd.add_argument(
        "--lighthouse",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="make it a lighthouse reachable at HOST:PORT (repeatable)",
    )
    cmd.add_argument("--relay", action="store_true", help="let it relay for others")
    cmd.add_argument(
        "--relays",
        action="append",
        metavar="HOSTS",
        help="comma-separated relays others may use to reach it (default: every relay; '' for none)",
    )
    keys = cmd.add_mutually_exclusive_group()
    keys.add_argument("--bake-key", action="store_true", help="bake the private key into the binary")
    keys.add_argument(
        "--key-path", help=f"where the key lives on the host (default: {default_key_path('NETWORK')})"
    )
    _key_flags(cmd)
    _ca_flags(cmd)
    _git_flag(cmd)
    cmd.set_defaults(func=_new_host)

    cmd = command("renew", "sign new certificates for hosts' existing keys, from their YAML (IP, groups)")
    cmd.add_argument("names", nargs="*", metavar="NAME")
    cmd.add_argument("--all", action="store_true", help="every host (e.g. with a new CA during a rotation)")
    _ca_flags(cmd)
    _git_flag(cmd)
    cmd.set_defaults(func=_renew)

    cmd = command("reach", "who can open which port to whom, from the firewall rules (docs/reach.md)")
    cmd.add_argument("--from", dest="from_", action="append", default=[], metavar="HOST", help="repeatable")
    cmd.add_argument("--to", action="append", default=[], metavar="HOST", help="repeatable")
    cmd.add_argument("--port", help="a port or range, e.g. 22 or 8000-8100 (tcp and udp only)")
    cmd.add_argument("--proto", action="append", choices=["tcp", "udp", "icmp"], help="repeatable")
    cmd.add_argument("--json", action="store_true", help="JSON instead of a table")
    cmd.add_argument(
        "--classes",
        action="store_true",
        help="rows between classes of hosts the flows treat alike, each row true for every host of "
        "both (for large networks)",
    )
    cmd.add_argument(
        "--explain",
        nargs=3,
        metavar=("FROM", "TO", "PACKET"),
        help="which rule on each side allows or denies one packet, e.g. alpha beta tcp/22",
    )
    cmd.set_defaults(func=_reach)

    cmd = command("graph", "draw the network: hosts, lighthouses, relays, groups, allowed flows (Graphviz)")
    cmd.add_argument("--format", choices=["svg", "dot"], default="svg")
    cmd.add_argument("--out", type=Path, help="file to write (default: standard output)")
    cmd.add_argument(
        "--nodes",
        choices=["auto", "host", "class"],
        default="auto",
        help="one box per host, or per class of hosts the rules treat alike (auto: classes once a "
        "picture of every host would be unreadable)",
    )
    cmd.set_defaults(func=_graph)

    cmd = command("sign", "a new key pair and certificate for an existing host file (e.g. written by hand)")
    cmd.add_argument("name")
    _key_flags(cmd)
    _ca_flags(cmd)
    _git_flag(cmd)
    cmd.set_defaults(func=_sign)

    cmd = command("remove", "delete a host's files (hosts/NAME.yml, its certificate and baked key)")
    cmd.add_argument("name")
    _git_flag(cmd)
    cmd.set_defaults(func=_remove)

    cmd = command("revoke", "stop trusting a host's certificate (revoked.yml, nebula's pki.blocklist)")
    cmd.add_argument("name", nargs="?", help="the host; its files are removed unless --new-key")
    cmd.add_argument(
        "--fingerprint", help="revoke a certificate by fingerprint instead of a host's current one"
    )
    cmd.add_argument("--reason", required=True, help="why, in a few words (lost, stolen, retired, ...)")
    cmd.add_argument("--new-key", action="store_true", help="keep the host: sign a new key pair for it")
    _key_flags(cmd)
    _ca_flags(cmd, required=False)
    _git_flag(cmd)
    cmd.set_defaults(func=_revoke)

    cmd = command("ca-add", "CA rotation, step 1: make the next CA and trust it beside the current one")
    cmd.add_argument("--ca-dir", type=Path, required=True, help="where its key goes (outside the inventory)")
    cmd.add_argument(
        "--ca-duration", default=DEFAULT_CA_DURATION, help=f"validity (default: {DEFAULT_CA_DURATION})"
    )
    cmd.add_argument("--out", help="its certificate's file in the inventory (default: ca-YYYYMMDD.crt)")
    _git_flag(cmd)
    cmd.set_defaults(func=_ca_add)

    cmd = command("ca-drop", "CA rotation, last step: stop trusting a CA (refused while a host needs it)")
    cmd.add_argument("ca", type=Path, help="the CA certificate, as network.yml's `ca` names it")
    _git_flag(cmd)
    cmd.set_defaults(func=_ca_drop)

    _describe_commands(sub, command)
    return top


def _describe_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Callable[[str, str], argparse.ArgumentParser],
) -> None:
    """Validate once per network (`describe`), render per host (`render`/`appdir --description`)."""
    cmd = command("describe", "validate the inventory once and write it as JSON, for per-host renders")
    cmd.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    cmd.set_defaults(func=_describe)
    for name in ("render", "appdir"):
        sub.choices[name].add_argument(
            "--description",
            type=Path,
            help="render from this `describe` output of ROOT instead of validating every host again",
        )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValidationFailed as exc:
        print(exc, file=sys.stderr)
        errors = sum(1 for d in exc.diagnostics if d.severity == "error")
        print(f"{errors} error{'s' if errors != 1 else ''}", file=sys.stderr)
        return EXIT_USER_ERROR
    except UserError as exc:
        print(f"cryptic-net: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`cryptic-net reach | head`): no traceback, and nothing more to
        # flush to it at exit (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # as a shell reports a program that SIGPIPE ended
