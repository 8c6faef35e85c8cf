# The toolchain, for one system: the static pieces every AppImage carries, the
# AppImage tools and the glue. The same for every network (nix/network.nix).
{
  pkgs,
  nix-bundle,
}:

let
  inherit (pkgs) lib;

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
in
{
  inherit pkgs parts;
  # Only what can be built for this system: on aarch64-linux there is no
  # appimagetool (see pkgs/appimagetool).
  available = lib.filterAttrs (_: lib.meta.availableOn pkgs.stdenv.hostPlatform) parts;
}
