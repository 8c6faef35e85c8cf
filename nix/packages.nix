# Everything the flake builds for one system, as one attribute set:
# the static pieces, the glue, the per-host builder and one AppImage per host.
{
  pkgs,
  nix-bundle,
}:

let
  inherit (pkgs) lib;
  sources = import ./sources.nix { inherit lib; };

  # Static C code is built with pkgsStatic (musl, static libraries); the Go
  # programs need no C at all and are built natively with CGO off.
  static = pkgs.pkgsStatic;

  parts = {
    nebula = pkgs.callPackage ../pkgs/nebula/package.nix { };
    dnsmasq = static.callPackage ../pkgs/dnsmasq/package.nix { };
    pmux = pkgs.callPackage ../pkgs/pmux/package.nix { };
    appimage-runtime = static.callPackage ../pkgs/appimage-runtime/package.nix { };
    appimagetool = pkgs.callPackage ../pkgs/appimagetool/package.nix { inherit nix-bundle; };
    cryptic-net = pkgs.callPackage ../pkgs/cryptic-net/package.nix { };
  };

  buildHost = pkgs.callPackage ./host.nix (parts // { inherit (sources) inventory; });

  hosts = import ../hosts { inherit buildHost; };

  # Only what can be built for this system: on aarch64-linux there is no
  # appimagetool (see pkgs/appimagetool), hence no AppImage.
  available = lib.filterAttrs (_: lib.meta.availableOn pkgs.stdenv.hostPlatform);
in
{
  inherit sources buildHost;
  parts = available parts;
  hosts = available hosts;
}
