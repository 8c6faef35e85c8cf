# What one host's AppImage carries that depends on the host's architecture: its programs
# and its AppImage runtime (issue 13).
#
#   import ./cross.nix { inherit pkgs; } "aarch64"
#     -> { nebula, dnsmasq, pmux, appimage-runtime, arch, system, elfMachine }
#
# pkgs is the builder's nixpkgs (legacyPackages.<builder's system>). Everything else in a
# host's build (the glue, appimagetool, mksquashfs) runs on the builder and stays the
# builder's.
#
# A host of the builder's own architecture gets its programs from pkgs itself: an x86_64
# builder builds x86_64 hosts, and an aarch64 builder aarch64 hosts, natively, exactly as
# before. A host of another architecture gets them from nixpkgs' cross package set for it,
# pkgs.pkgsCross.<name> (nix/arch.nix names it):
#   - nebula and pmux (Go, CGO off, see pkgs/nebula and pkgs/pmux) with that set's
#     buildGoModule, which takes GOOS and GOARCH from the target's Go (`inherit (go) GOOS
#     GOARCH` in pkgs/build-support/go/module.nix, read at nixpkgs 9338fd8) and moves what
#     `go install` puts in $GOPATH/bin/linux_arm64 to $out/bin like a native build. No C
#     compiler is involved, so its glibc is irrelevant.
#   - dnsmasq and the type-2 runtime (C) with that set's pkgsStatic: static musl for the
#     target CPU. pkgs/top-level/stage.nix (read at nixpkgs d55d3f2) defines pkgsStatic of
#     any set as that set's host platform made musl (`makeMuslParsedPlatform`) and static
#     (`isStatic = true`), built from the same build platform: for aarch64-multiplatform it
#     is aarch64-unknown-linux-musl, the same target as pkgsCross.aarch64-multiplatform-musl
#     .pkgsStatic, reached through the set whose cross compiler the binary cache is more
#     likely to hold.
# The same package files (pkgs/*/package.nix) serve every architecture.
#
# Only a networked Nix builder verifies that these cross builds succeed; the offline tests
# (tests/nix/test_nix_cross.py) check the wiring against the mock nixpkgs.
{ pkgs }:

arch:

let
  known = import ./arch.nix;
  target =
    known.arches.${arch}
      or (throw "cryptic-net: unknown arch '${arch}' (known: ${toString (builtins.attrNames known.arches)})");
  native = pkgs.stdenv.hostPlatform.system == target.system;
  set = if native then pkgs else pkgs.pkgsCross.${target.cross};
  static = set.pkgsStatic;
in
{
  inherit arch;
  inherit (target) system elfMachine;
  nebula = set.callPackage ../pkgs/nebula/package.nix { };
  pmux = set.callPackage ../pkgs/pmux/package.nix { };
  dnsmasq = static.callPackage ../pkgs/dnsmasq/package.nix { };
  appimage-runtime = static.callPackage ../pkgs/appimage-runtime/package.nix { };
}
