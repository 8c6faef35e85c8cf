# The builder is deterministic (requirement 4 of the seed): `drv` and a copy
# of it that differs only in a variable nothing reads are built independently,
# and their main programs must be byte-identical. Building on another machine
# is the same experiment; `nix build --rebuild` repeats it against a cached
# result. nix/checks/deterministic.nix and nix/checks/multiarch.nix use it.
{ lib, pkgs }:
name: drv:
let
  again = drv.overrideAttrs { CRYPTIC_NET_DETERMINISM_RUN = "2"; };
in
pkgs.runCommand name { } ''
  a=${lib.getExe drv}
  b=${lib.getExe again}
  sha256sum "$a" "$b"
  cmp "$a" "$b"
  touch $out
''
