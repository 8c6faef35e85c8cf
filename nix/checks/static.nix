# Requirement 2 of the seed, checked on what is shipped: the static type-2
# runtime, and every host's AppImage with every file inside it (unpacked by
# its own runtime, `--appimage-extract`, which needs no FUSE, or by unsquashfs
# for an image of another architecture): no INTERP program header (no dynamic
# loader), no DT_NEEDED entry (no shared library), no "/nix/store" string
# anywhere, and every ELF file of the host's architecture.
#
# The logic is ./static.sh, the same script the integration tests run on every
# AppImage they build offline (tests/integration/test_static.py), so the check
# a networked Nix builder runs is the one the tests exercise every day.
#
# nixpkgs (nixos-26.05, read for this file): `runCommand` (pkgs/build-support/
# trivial-builders) gives stdenv's shell with coreutils, findutils, gnugrep and
# gnused on PATH; readelf comes from `binutils-unwrapped`
# (pkgs/development/tools/misc/binutils), which has no wrapper scripts in the
# way. `builtins.storeDir` is "/nix/store" unless the store lives elsewhere.
# Only a networked Nix builder runs this derivation.
{
  lib,
  pkgs,
  parts,
  hosts,
  ...
}:

lib.optionalAttrs (hosts != { }) {
  static =
    pkgs.runCommand "cryptic-net-static"
      {
        # unsquashfs: an image of another architecture than the builder's is
        # unpacked without running its runtime (static.sh --arch).
        nativeBuildInputs = [
          pkgs.binutils-unwrapped
          pkgs.squashfsTools
        ];
      }
      ''
        fail=0
        bash ${./static.sh} --store-dir ${builtins.storeDir} \
          ${parts.appimage-runtime}/runtime || fail=1
        # Each image with its host's architecture: every ELF file in it, its
        # runtime included, must be of that machine type (issue 13).
        ${lib.concatMapStrings (image: ''
          bash ${./static.sh} --store-dir ${builtins.storeDir} --arch ${image.arch} \
            ${lib.getExe image} || fail=1
        '') (lib.attrValues hosts)}
        [ "$fail" = 0 ]
        touch $out
      '';
}
