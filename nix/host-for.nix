# How a host's AppImage is built for an architecture, defined once: its
# programs and AppImage runtime from nix/cross.nix (the builder's own for its
# own architecture, cross-built for another), the glue and appimagetool the
# builder's. nix/network.nix builds every host with it; nix/checks/multiarch.nix
# builds the example's beta as an aarch64 host with it.
#
#   arch  x86_64 or aarch64 (nix/arch.nix)
#   returns a function of the host name (nix/host.nix)
{
  pkgs,
  parts,
  inventory,
  description,
}:
arch:
let
  target = import ./cross.nix { inherit pkgs; } arch;
in
pkgs.callPackage ./host.nix {
  inherit (parts) cryptic-net appimagetool;
  inherit (target)
    nebula
    dnsmasq
    pmux
    appimage-runtime
    ;
  inherit inventory description arch;
}
