#!/bin/sh
# The whole recipe for one host's AppImage, in one place: nix/host.nix runs
# this file inside the Nix build and tests/nix runs the same file outside Nix.
#
# usage: build-host.sh HOST ROOT BIN_DIR RUNTIME OUT
#   HOST     host name (hosts/HOST.yml)
#   ROOT     inventory root (network.yml, hosts/, appdir/)
#   BIN_DIR  directory holding static nebula, nebula-cert, dnsmasq and pmux
#   RUNTIME  the static AppImage type-2 runtime
#   OUT      the AppImage to write
# Needs on PATH: cryptic-net, appimagetool, and nebula-cert (which
# `cryptic-net appdir` calls to read and verify the host certificate).
# Writes ./AppDir, which must not exist yet.
set -eu

if [ "$#" -ne 5 ]; then
    echo "usage: $0 HOST ROOT BIN_DIR RUNTIME OUT" >&2
    exit 64
fi
host=$1
root=$2
bin_dir=$3
runtime=$4
out=$5

# Validates the inventory, renders the host's etc/ and assembles the AppDir
# (layout defined once, in the glue).
cryptic-net appdir "$host" --root "$root" --bin-dir "$bin_dir" --out AppDir

mkdir -p "$(dirname "$out")"
# --runtime-file: the static type-2 runtime instead of the classic one that
# appimagetool embeds (that one needs libfuse.so.2 on the target host).
ARCH=x86_64 appimagetool --runtime-file "$runtime" AppDir "$out"
