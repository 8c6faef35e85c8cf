#!/bin/sh
# The whole recipe for a network's AppImages, in one place: nix/description.nix
# and nix/host.nix run this file inside the Nix build, and tests/nix runs the
# same file outside Nix.
#
# usage: build.sh describe ROOT OUT
#   Validates the inventory at ROOT once (schema, checks, every certificate)
#   and writes its normalized description, OUT (JSON). Needs on PATH:
#   cryptic-net.
#
# usage: build.sh host HOST ROOT DESCRIPTION BIN_DIR RUNTIME OUT
#   HOST         host name (ROOT/hosts/HOST.yml)
#   ROOT         inventory root (network.yml, ca.crt, hosts/)
#   DESCRIPTION  what `build.sh describe` wrote for this ROOT
#   BIN_DIR      directory holding static nebula, nebula-cert, dnsmasq and pmux
#   RUNTIME      the static AppImage type-2 runtime
#   OUT          the AppImage to write
#   Renders HOST from DESCRIPTION (no other host's files are read, nothing is
#   validated twice) and packs it. Needs on PATH: cryptic-net, appimagetool.
#   CRYPTIC_NET_ARCH: the host's architecture, x86_64 (default) or aarch64, for
#   appimagetool's ARCH; BIN_DIR and RUNTIME must be built for it.
#   Writes ./AppDir, which must not exist yet.
set -eu

usage() {
    echo "usage: $0 describe ROOT OUT" >&2
    echo "       $0 host HOST ROOT DESCRIPTION BIN_DIR RUNTIME OUT" >&2
    exit 64
}

[ "$#" -ge 1 ] || usage
step=$1
shift
case $step in
describe)
    [ "$#" -eq 2 ] || usage
    cryptic-net describe --root "$1" --out "$2"
    ;;
host)
    [ "$#" -eq 6 ] || usage
    host=$1
    root=$2
    description=$3
    bin_dir=$4
    runtime=$5
    out=$6

    # Renders the host's etc/ and assembles the AppDir (layout and template
    # defined once, in the glue).
    cryptic-net appdir "$host" --root "$root" --description "$description" \
        --bin-dir "$bin_dir" --out AppDir

    mkdir -p "$(dirname "$out")"
    # --runtime-file: the static type-2 runtime instead of the classic one that
    # appimagetool embeds (that one needs libfuse.so.2 on the target host).
    # ARCH: the image's architecture, which appimagetool requires in the
    # environment; RUNTIME and the AppDir's programs are of it.
    ARCH=${CRYPTIC_NET_ARCH:-x86_64} appimagetool --runtime-file "$runtime" AppDir "$out"
    ;;
*)
    usage
    ;;
esac
