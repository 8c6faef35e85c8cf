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

  buildHost = pkgs.callPackage ./host.nix {
    inherit (parts)
      cryptic-net
      nebula
      dnsmasq
      pmux
      appimagetool
      appimage-runtime
      ;
    inherit inventory description;
  };

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
  inherit description buildHost hostNames;
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
