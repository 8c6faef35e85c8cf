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
#   deterministic-aarch64  the image built twice, independently: identical bytes.
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

  target = import ../cross.nix { inherit pkgs; } arch;

  # Two derivations that differ only in a variable nothing reads (as
  # ./deterministic.nix does for alpha).
  build =
    run:
    (pkgs.callPackage ../host.nix {
      inherit (parts) cryptic-net appimagetool;
      inherit (target)
        nebula
        dnsmasq
        pmux
        appimage-runtime
        ;
      inherit inventory description arch;
    } host).overrideAttrs
      { CRYPTIC_NET_DETERMINISM_RUN = run; };
  first = build "1";
  second = build "2";
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
        bash ${./static.sh} --store-dir ${builtins.storeDir} --arch ${arch} ${lib.getExe first}
        touch $out
      '';

  "deterministic-${arch}" = pkgs.runCommand "cryptic-net-deterministic-${arch}" { } ''
    a=${lib.getExe first}
    b=${lib.getExe second}
    sha256sum "$a" "$b"
    cmp "$a" "$b"
    touch $out
  '';
}
