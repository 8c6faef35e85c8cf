# Source sets, with lib.fileset, so that a derivation only sees (and only
# rebuilds for) the files it needs.
{ lib }:

let
  fs = lib.fileset;
  root = ../.;
  spec = import ./inventory-files.nix;

  inventoryFiles = fs.unions (
    map (path: root + "/${path}") (spec.files ++ spec.dirs)
    ++ [
      (fs.fileFilter (file: lib.any file.hasExt spec.hostExtensions) (root + "/${spec.hostsDir}"))
    ]
  );
in
{
  # Input of every host AppImage, of `validate` and of `configs`.
  inventory = fs.toSource {
    inherit root;
    fileset = inventoryFiles;
  };

  # Input of the pytest check: the glue, its tests and the example inventory.
  tests = fs.toSource {
    inherit root;
    fileset = fs.unions [
      inventoryFiles
      (root + "/pyproject.toml")
      (root + "/scripts")
      (root + "/tests")
    ];
  };

  # Every Nix file, for the formatting check.
  nix = fs.toSource {
    inherit root;
    fileset = fs.fileFilter (file: file.hasExt "nix") root;
  };
}
