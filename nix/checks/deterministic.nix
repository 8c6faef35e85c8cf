# Requirement 4 of the seed: the builder is deterministic. The alpha AppImage
# is built twice, independently (two derivations that differ only in a
# variable nothing reads), and the two files must be byte-identical.
# Building on another machine is the same experiment; `nix build --rebuild
# .#host-alpha` repeats it against a cached result.
{
  lib,
  pkgs,
  hosts,
  ...
}:

let
  again = run: hosts.host-alpha.overrideAttrs { CRYPTIC_NET_DETERMINISM_RUN = run; };
  first = again "1";
  second = again "2";
in
lib.optionalAttrs (hosts ? host-alpha) {
  deterministic = pkgs.runCommand "cryptic-net-deterministic" { } ''
    a=${lib.getExe first}
    b=${lib.getExe second}
    sha256sum "$a" "$b"
    cmp "$a" "$b"
    touch $out
  '';
}
