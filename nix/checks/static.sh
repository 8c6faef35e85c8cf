#!/usr/bin/env bash
# The `static` check (requirement 2 of the seed: nothing from the host but the kernel), as
# one script: the flake check `static` (nix/checks/static.nix) and the integration tests
# (tests/integration/test_static.py) both run it.
#
#   static.sh [--store-dir DIR] [--runtime-may-be-dynamic] [--arch x86_64|aarch64] PATH...
#
# Each PATH is
#   - an AppImage (magic "AI" 0x02 at byte 8): its runtime (the ELF part) is checked, the whole
#     file is searched for the store path, and it is unpacked with its own runtime
#     (`--appimage-extract`, which needs no FUSE) to check every file inside;
#   - a directory (an AppDir): every regular file in it is checked;
#   - any other file: checked as itself.
# A file is checked for: no ELF interpreter (no INTERP program header: nothing loads it but
# the kernel), no DT_NEEDED entry (no shared library), no "<store dir>/" string anywhere (no
# reference into a Nix store). Files that are not ELF (scripts, configs, the icon) only get the
# string search.
#
# --arch NAME: every ELF file must also be for that architecture (its e_machine, elf(5)): a
#   host's image carries programs and a runtime of the host's `arch` (issue 13). An AppImage
#   whose runtime is not for this machine is unpacked with unsquashfs (squashfs-tools) from
#   where the runtime ends instead of by its runtime, so no emulation is needed.
# --store-dir DIR: the store path to look for (default /nix/store; Nix passes builtins.storeDir).
# --runtime-may-be-dynamic: skip the ELF checks of an AppImage's own runtime (the tests build
#   with the classic AppImageKit runtime, which loads libfuse.so.2: a test tool, not what ships;
#   the flake uses the static type-2 runtime and never passes this).
#
# Prints "ok FILE" or "FAIL FILE: why" per file; exit 0 when all passed, 1 when one failed,
# 2 on a usage error. Needs bash, readelf (binutils), grep, find, od, mktemp; unsquashfs for
# an AppImage of another architecture.
set -euo pipefail

store_dir=/nix/store
runtime_may_be_dynamic=
arch=
while [ $# -gt 0 ]; do
  case "$1" in
    --store-dir) store_dir=${2:?--store-dir needs a value}; shift 2 ;;
    --runtime-may-be-dynamic) runtime_may_be_dynamic=1; shift ;;
    --arch) arch=${2:?--arch needs a value}; shift 2 ;;
    --) shift; break ;;
    -*) echo "static.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "usage: static.sh [--store-dir DIR] [--runtime-may-be-dynamic] [--arch x86_64|aarch64] APPIMAGE|APPDIR|FILE..." >&2
  exit 2
fi
# e_machine, as od prints the two bytes at offset 18 of a little-endian ELF file.
machine_of_arch() {
  case "$1" in
    x86_64) echo 62 ;;
    aarch64) echo 183 ;;
    *) return 1 ;;
  esac
}
want_machine=
if [ -n "$arch" ] && ! want_machine=$(machine_of_arch "$arch"); then
  echo "static.sh: unknown --arch $arch (x86_64, aarch64)" >&2
  exit 2
fi
here_machine=$(machine_of_arch "$(uname -m)" || echo 0)
needle=${store_dir%/}/

fail=0
bad() { echo "FAIL $1: $2"; fail=1; }

is_elf() { [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; }
is_appimage() { [ "$(od -An -tx1 -j 8 -N 3 "$1" | tr -d ' \n')" = 414902 ]; }
elf_machine() { od -An -tu2 -j 18 -N 2 "$1" | tr -d ' \n'; }
# Where an ELF64 file's last part, its section header table, ends: e_shoff + e_shnum *
# e_shentsize. appimagetool appends the squashfs image right there.
elf_end() {
  local shoff shentsize shnum
  shoff=$(od -An -tu8 -j 40 -N 8 "$1" | tr -d ' \n')
  shentsize=$(od -An -tu2 -j 58 -N 2 "$1" | tr -d ' \n')
  shnum=$(od -An -tu2 -j 60 -N 2 "$1" | tr -d ' \n')
  echo $((shoff + shentsize * shnum))
}

# check_file FILE LABEL [skip-elf]: the ELF checks (unless skipped) and the store string
# search; LABEL names the file in the output.
check_file() {
  local file=$1 label=$2 skip_elf=${3:-} ok=1 needed
  if [ -z "$skip_elf" ] && is_elf "$file"; then
    if [ -n "$want_machine" ] && [ "$(elf_machine "$file")" != "$want_machine" ]; then
      bad "$label" "is not an $arch program (ELF machine $(elf_machine "$file"), want $want_machine)"
      ok=
    fi
    if readelf -lW "$file" 2>/dev/null | grep -q 'Requesting program interpreter\|^ *INTERP '; then
      bad "$label" "has an ELF interpreter (dynamically linked)"
      ok=
    fi
    needed=$(readelf -dW "$file" 2>/dev/null | grep '(NEEDED)' | sed 's/.*Shared library: *//' | tr '\n' ' ' || true)
    if [ -n "$needed" ]; then
      bad "$label" "needs shared libraries: $needed"
      ok=
    fi
  fi
  if grep -q -F -- "$needle" "$file"; then
    bad "$label" "contains $needle"
    ok=
  fi
  if [ -n "$ok" ]; then echo "ok   $label"; fi
}

# check_dir DIR LABEL: every regular file, named LABEL/<path inside DIR>.
check_dir() {
  local file
  while IFS= read -r -d '' file; do
    check_file "$file" "$2/${file#"$1"/}"
  done < <(find "$1" -type f -print0 | sort -z)
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for path in "$@"; do
  if [ -d "$path" ]; then
    check_dir "${path%/}" "${path%/}"
  elif [ -f "$path" ] && is_appimage "$path"; then
    check_file "$path" "$path" "$runtime_may_be_dynamic"
    image=$(cd "$(dirname "$path")" && pwd)/$(basename "$path")
    rm -rf "$work/squashfs-root"
    if [ "$(elf_machine "$path")" != "$here_machine" ]; then
      unpack() { unsquashfs -q -n -d "$work/squashfs-root" -o "$(elf_end "$path")" "$path" >/dev/null 2>&1; }
    else
      unpack() { (cd "$work" && "$image" --appimage-extract >/dev/null 2>&1); }
    fi
    if unpack && [ -d "$work/squashfs-root" ]; then
      check_dir "$work/squashfs-root" "$path!"
    else
      bad "$path" "could not be unpacked (--appimage-extract, or unsquashfs for another architecture)"
    fi
  elif [ -f "$path" ]; then
    check_file "$path" "$path"
  else
    echo "static.sh: no such file or directory: $path" >&2
    exit 2
  fi
done

exit "$fail"
