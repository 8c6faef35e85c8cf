# The flake's outputs, evaluated against the mock nixpkgs (see README.md),
# reduced to JSON-friendly descriptions that tests/nix/test_nix_flake_eval.py
# inspects. Builtins only.
{ repo }:

let
  lib = import ./lib.nix;
  systems = [
    "x86_64-linux"
    "aarch64-linux"
  ];

  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs systems (system: import ./pkgs.nix { inherit lib system; });
  };

  flake = import (repo + "/flake.nix");
  outputs = flake.outputs {
    self = outputs // {
      outPath = toString repo;
    };
    inherit nixpkgs;
    nix-bundle = toString ./nix-bundle;
  };

  # Values as JSON can carry them: derivations become their outPath, functions
  # a marker; depth-limited because derivations refer to each other.
  plain =
    depth: value:
    if builtins.isFunction value then
      "<function>"
    else if builtins.isList value then
      map (plain depth) value
    else if builtins.isAttrs value then
      if value ? outPath then
        toString value.outPath
      else if depth == 0 then
        "<attrs>"
      else
        builtins.mapAttrs (_: plain (depth - 1)) value
    else
      value;

  describe = drv: {
    inherit (drv) name isStatic;
    path = toString drv.outPath;
    meta = plain 2 drv.meta;
    attrs = plain 3 drv.drvAttrs;
  };

  perSystem = f: builtins.mapAttrs (_: f);
in
{
  packages = perSystem (builtins.mapAttrs (_: describe)) outputs.packages;
  checks = perSystem (builtins.mapAttrs (_: describe)) outputs.checks;
  devShells = perSystem (builtins.mapAttrs (_: describe)) outputs.devShells;
  formatter = perSystem (drv: drv.name) outputs.formatter;
  apps = outputs.apps;
}
