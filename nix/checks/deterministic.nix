# Requirement 4 of the seed: the builder is deterministic. The alpha AppImage
# is built twice, independently, and the two files must be byte-identical
# (nix/same-bytes.nix).
{
  lib,
  pkgs,
  hosts,
  ...
}:

lib.optionalAttrs (hosts ? host-alpha) {
  deterministic = import ../same-bytes.nix {
    inherit lib pkgs;
  } "cryptic-net-deterministic" hosts.host-alpha;
}
