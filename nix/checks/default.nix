# The flake's checks, one file each in this directory (besides this one).
# Each file is a function of the arguments below and returns an attribute set
# of derivations, empty where the check cannot run on this system. Adding a
# check is adding a file.
#
#   pkgs     nixpkgs for this system
#   parts    the static binaries, runtime, appimagetool and glue (nix/packages.nix)
#   hosts    the host AppImages, `host-<name>`, for this system
#   sources  source sets (nix/sources.nix)
args:

let
  here = builtins.readDir ./.;
  isCheck = file: file != "default.nix" && builtins.match ".*\\.nix" file != null;
  files = builtins.filter isCheck (builtins.attrNames here);
in
builtins.foldl' (checks: file: checks // import (./. + "/${file}") args) { } files
