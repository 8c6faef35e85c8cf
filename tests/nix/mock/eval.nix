# The flake's outputs, evaluated against the mock nixpkgs (see README.md),
# reduced to JSON-friendly descriptions that tests/nix inspects. Builtins only.
#
#   repo     this repository (its flake.nix)
#   network  optional: a directory holding a network's flake.nix made from
#            templates/default, evaluated with this repository's flake as its
#            `cryptic-net` input, instead of this repository's own outputs
{
  repo,
  network ? null,
}:

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
  project = flake.outputs {
    self = project // {
      outPath = toString repo;
    };
    inherit nixpkgs;
    nix-bundle = toString ./nix-bundle;
  };

  networkFlake = import (network + "/flake.nix");
  networkOutputs = networkFlake.outputs {
    self = networkOutputs // {
      outPath = toString network;
    };
    cryptic-net = project;
  };

  outputs = if network == null then project else networkOutputs;

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
  inherit (outputs) apps;
  outputNames = builtins.attrNames outputs;
}
// lib.optionalAttrs (network == null) {
  formatter = perSystem (drv: drv.name) outputs.formatter;
  lib = builtins.attrNames outputs.lib;
  templates = builtins.mapAttrs (_: t: {
    path = toString t.path;
    inherit (t) description welcomeText;
  }) outputs.templates;
}
