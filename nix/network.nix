# One network, for one system: an inventory directory in, its description
# (validated once), one `host-<name>` AppImage per hosts/<name>.yml and the
# network's checks out. lib.mkNetwork (nix/mk-network.nix) calls this per
# system; the example network in this repository is built through it too.
#
#   pkgs   nixpkgs for this system (the flake's pinned input)
#   parts  the static binaries, runtime, appimagetool and glue (nix/packages.nix)
#   root   the inventory directory (network.yml, ca.crt, hosts/)
{
  pkgs,
  parts,
  root,
}:

let
  inherit (pkgs) lib;
  sources = import ./sources.nix { inherit lib; };
  inventory = sources.inventory root;

  description = pkgs.callPackage ./description.nix {
    inherit (parts) cryptic-net;
    inherit inventory;
  };

  # A host's programs and AppImage runtime are those of its `arch` (nix/arch.nix reads it
  # from hosts/<name>.yml with builtins; nix/host-for.nix builds for it).
  arches = import ./arch.nix;
  hostFor = import ./host-for.nix {
    inherit
      pkgs
      parts
      inventory
      description
      ;
  };
  buildHostFor = lib.mapAttrs (arch: _: hostFor arch) arches.arches;
  buildHost = host: buildHostFor.${arches.ofHostFile (root + "/hosts/${host}.yml")} host;

  hosts = import ./hosts.nix {
    dir = root + "/hosts";
    inherit buildHost;
  };
  hostNames = map (lib.removePrefix "host-") (builtins.attrNames hosts);

  # Only what can be built for this system: on aarch64-linux there is no
  # appimagetool (see pkgs/appimagetool), hence no AppImage.
  available = lib.filterAttrs (_: lib.meta.availableOn pkgs.stdenv.hostPlatform);
in
{
  inherit
    description
    buildHost
    buildHostFor
    hostNames
    ;
  hosts = available hosts;
  checks = import ./network-checks.nix {
    inherit (pkgs) lib runCommand;
    inherit
      parts
      inventory
      description
      hostNames
      ;
  };
}
