# The `static` and `deterministic` checks on an aarch64 image (issue 13). The
# example network has only x86_64 hosts, so this builds its beta as an aarch64
# host: the same inventory with `arch: aarch64` added to hosts/beta.yml, its
# programs and runtime from nix/cross.nix (cross-built on an x86_64 builder),
# packed by the builder's appimagetool, exactly as lib.mkNetwork builds an
# aarch64 host of any network (nix/network.nix).
#
#   static-aarch64         nix/checks/static.sh --arch aarch64 on the image: no
#                          interpreter, no DT_NEEDED, no store path, and every
#                          ELF file in it (the runtime too) for AArch64. The
#                          image is unpacked with unsquashfs, not by its
#                          runtime, which cannot run on an x86_64 builder.
#   deterministic-aarch64  the image built twice, independently: identical bytes
#                          (nix/same-bytes.nix).
#
# Only where appimagetool exists (x86_64-linux, see pkgs/appimagetool). Only a
# networked Nix builder runs these derivations.
{
  lib,
  pkgs,
  parts,
  hosts,
  sources,
  ...
}:

let
  host = "beta";
  arch = "aarch64";

  inventory = pkgs.runCommand "cryptic-net-example-${host}-${arch}" { } ''
    cp -r ${sources.inventory ../..} $out
    chmod -R u+w $out
    printf 'arch: ${arch}\n' >> $out/hosts/${host}.yml
  '';

  description = pkgs.callPackage ../description.nix {
    inherit (parts) cryptic-net;
    inherit inventory;
  };

  image = import ../host-for.nix {
    inherit
      pkgs
      parts
      inventory
      description
      ;
  } arch host;
in
lib.optionalAttrs (parts ? appimagetool && hosts ? "host-${host}") {
  "static-${arch}" =
    pkgs.runCommand "cryptic-net-static-${arch}"
      {
        nativeBuildInputs = [
          pkgs.binutils-unwrapped
          pkgs.squashfsTools
        ];
      }
      ''
        bash ${./static.sh} --store-dir ${builtins.storeDir} --arch ${arch} ${lib.getExe image}
        touch $out
      '';

  "deterministic-${arch}" = import ../same-bytes.nix {
    inherit lib pkgs;
  } "cryptic-net-deterministic-${arch}" image;
}
