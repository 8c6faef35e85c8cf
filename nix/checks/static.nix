# Requirement 2 of the seed, checked on what is shipped: every host's AppImage
# is unpacked (by its own runtime, `--appimage-extract`, which needs no FUSE)
# and every ELF file inside it, and the runtime itself, must have no INTERP
# program header (no dynamic loader) and no DT_NEEDED entry (no shared
# library); neither the AppImage nor anything inside it may contain the
# string "/nix/store".
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
        nativeBuildInputs = [ pkgs.binutils-unwrapped ];
      }
      ''
        fail=0
        check_elf() {
          # Not an ELF file (scripts, configs, the icon): nothing to check.
          [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ] || return 0
          if readelf -lW "$1" | grep -q 'INTERP'; then
            echo "FAIL $1: has an ELF interpreter (dynamically linked)"
            fail=1
          fi
          if readelf -dW "$1" | grep -q '(NEEDED)'; then
            echo "FAIL $1: needs shared libraries:"
            readelf -dW "$1" | grep '(NEEDED)'
            fail=1
          fi
          echo "ok   $1"
        }

        check_elf ${parts.appimage-runtime}/runtime

        for image in ${lib.escapeShellArgs (map lib.getExe (lib.attrValues hosts))}; do
          echo "== $image"
          check_elf "$image"
          if grep -q -F '${builtins.storeDir}/' "$image"; then
            echo "FAIL $image: contains ${builtins.storeDir}/"
            fail=1
          fi
          rm -rf squashfs-root
          "$image" --appimage-extract >/dev/null
          if grep -r -l -F '${builtins.storeDir}/' squashfs-root; then
            echo "FAIL $image: files above contain ${builtins.storeDir}/"
            fail=1
          fi
          while IFS= read -r file; do
            check_elf "$file"
          done < <(find squashfs-root -type f | sort)
        done

        [ "$fail" = 0 ]
        touch $out
      '';
}
